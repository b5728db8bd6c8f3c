//! Identities: patients' self-registration with the Paillier key proof,
//! admins registering doctors and insurers, and suspension.

// Test code unwraps freely (clippy's allow-unwrap-in-tests does not reach helpers
// in integration-test crates, nor the shared `support` module compiled into each).
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

mod support;

use carechain_core::ids::B64;
use carechain_core::statement::*;
use support::*;

/// A stranger patient's registration (Paillier slot 2), for editing.
fn patient_registration(w: &mut World) -> (Actor, RegisterIdentity) {
    let patient = w.stranger(Role::Patient);
    let registration = patient.registration();
    (patient, registration)
}

/// Checks `patient`'s own `registration` is refused as invalid.
#[track_caller]
fn registration_invalid(
    w: &mut World,
    patient: &Actor,
    registration: RegisterIdentity,
) -> carechain_testkit::ChaincodeError {
    w.refuses_as(
        patient,
        Action::RegisterIdentity(registration),
        "invalid_payload",
    )
}

fn suspend(actor: &Actor, reason: &str) -> Action {
    Action::SuspendIdentity(SuspendIdentity {
        actor: actor.id(),
        reason: reason.into(),
    })
}

// ---- patients ----

#[test]
fn a_patient_registers_itself_with_its_paillier_key_and_proof() {
    let mut w = World::memory();
    w.advance(42);
    let (patient, registration) = patient_registration(&mut w);
    let result = w
        .submit(&patient, Action::RegisterIdentity(registration.clone()))
        .unwrap();
    assert_eq!(result["actor"], patient.id().as_str());
    assert_eq!(result["role"], "patient");

    let identity = w.query("identity", &[patient.id().as_str()]).unwrap();
    assert_eq!(identity["role"], "patient");
    assert_eq!(identity["active"], true);
    assert_eq!(identity["registered_by"], patient.id().as_str());
    assert_eq!(identity["registered_at"], T0 + 42);
    assert_eq!(identity["suspension"], serde_json::Value::Null);
    assert_eq!(
        identity["paillier"]["public_key"],
        registration.paillier.as_ref().unwrap().public_key.encode()
    );
    assert_eq!(identity["hpke_key"], registration.hpke_key.encode());

    let (name, payload) = w.event();
    assert_eq!(name, "identity_registered");
    assert_eq!(payload["actor"], patient.id().as_str());
    assert_eq!(payload["by"], patient.id().as_str());
    assert_eq!(payload["role"], "patient");
}

#[test]
fn a_patient_with_a_tampered_key_proof_is_refused() {
    let mut w = World::memory();
    let (patient, registration) = patient_registration(&mut w);
    let proof = registration.paillier.as_ref().unwrap().key_proof.clone();
    // A flipped bit inside a root; a wrong version byte; a truncated proof; nothing.
    let mut flipped = proof.clone();
    flipped.0[4 + 17] ^= 0x01;
    let mut version = proof.clone();
    version.0[0] ^= 0xff;
    let truncated = B64(proof.0[..proof.0.len() - 1].to_vec());
    for bad in [flipped, version, truncated, B64(vec![])] {
        let mut registration = registration.clone();
        registration.paillier.as_mut().unwrap().key_proof = bad;
        let err = registration_invalid(&mut w, &patient, registration);
        assert!(err.message.contains("key_proof"), "{err:?}");
        assert_eq!(err.status, 400);
    }
    refused(w.query("identity", &[patient.id().as_str()]), "not_found");
}

#[test]
fn a_patient_with_the_proof_of_another_key_is_refused() {
    let mut w = World::memory();
    let (patient, mut registration) = patient_registration(&mut w);
    registration.paillier.as_mut().unwrap().key_proof =
        B64(paillier_key(0).prove_key_correct().to_bytes());
    let err = registration_invalid(&mut w, &patient, registration);
    assert!(err.message.contains("key_proof"), "{err:?}");
}

#[test]
fn a_patient_without_a_paillier_key_is_refused() {
    let mut w = World::memory();
    let (patient, mut registration) = patient_registration(&mut w);
    registration.paillier = None;
    let err = registration_invalid(&mut w, &patient, registration);
    assert!(err.message.contains("paillier"), "{err:?}");
}

#[test]
fn a_patient_with_a_malformed_paillier_key_is_refused() {
    let mut w = World::memory();
    let (patient, registration) = patient_registration(&mut w);
    let n = registration.paillier.as_ref().unwrap().public_key.clone();
    let mut even = n.clone();
    *even.0.last_mut().unwrap() &= 0xfe;
    let small = B64(n.0[..128].to_vec());
    let mut leading_zero = vec![0u8];
    leading_zero.extend_from_slice(&n.0);
    for bad in [even, small, B64(leading_zero), B64(vec![])] {
        let mut registration = registration.clone();
        registration.paillier.as_mut().unwrap().public_key = bad;
        registration_invalid(&mut w, &patient, registration);
    }
}

#[test]
fn a_patient_registration_signed_by_someone_else_is_refused_forbidden() {
    let mut w = World::memory();
    let doctor = w.registered(Role::Doctor);
    let (patient, registration) = patient_registration(&mut w);
    // By the admin, by a doctor and by another patient: patients register themselves.
    w.refuses_admin(Action::RegisterIdentity(registration.clone()), "forbidden");
    w.refuses_as(
        &doctor,
        Action::RegisterIdentity(registration.clone()),
        "forbidden",
    );
    let other = w.patient(0);
    w.refuses_as(&other, Action::RegisterIdentity(registration), "forbidden");
    refused(w.query("identity", &[patient.id().as_str()]), "not_found");
}

#[test]
fn an_unregistered_key_cannot_register_a_patient_under_another_key() {
    let mut w = World::memory();
    let (victim, registration) = patient_registration(&mut w);
    let impostor = w.stranger(Role::Doctor);
    // Signed by the impostor's (unregistered) key, registering the victim's key.
    w.refuses_as(
        &impostor,
        Action::RegisterIdentity(registration),
        "signature_invalid",
    );
    refused(w.query("identity", &[victim.id().as_str()]), "not_found");
    refused(w.query("identity", &[impostor.id().as_str()]), "not_found");
}

#[test]
fn a_patient_registering_twice_is_refused_already_exists() {
    let mut w = World::memory();
    let (patient, registration) = patient_registration(&mut w);
    w.submit(&patient, Action::RegisterIdentity(registration.clone()))
        .unwrap();
    w.refuses_as(
        &patient,
        Action::RegisterIdentity(registration),
        "already_exists",
    );
}

#[test]
fn a_registration_with_bad_hpke_key_bytes_is_refused() {
    let mut w = World::memory();
    let (patient, registration) = patient_registration(&mut w);
    let doctor = w.stranger(Role::Doctor);
    let mut off_curve = vec![4u8];
    off_curve.extend_from_slice(&[7u8; 64]);
    for bad in [B64(vec![]), B64(vec![1, 2, 3]), B64(off_curve)] {
        let mut body = registration.clone();
        body.hpke_key = bad.clone();
        let err = w.refuses_as(&patient, Action::RegisterIdentity(body), "invalid_payload");
        assert!(err.message.contains("hpke_key"), "{err:?}");
        let mut body = doctor.registration();
        body.hpke_key = bad;
        w.refuses_admin(Action::RegisterIdentity(body), "invalid_payload");
    }
}

#[test]
fn an_over_long_display_name_is_refused() {
    let mut w = World::memory();
    let (patient, mut registration) = patient_registration(&mut w);
    registration.display_name = "é".repeat(201);
    let err = w.refuses_as(
        &patient,
        Action::RegisterIdentity(registration.clone()),
        "invalid_payload",
    );
    assert!(err.message.contains("display_name"), "{err:?}");
    let doctor = w.stranger(Role::Doctor);
    let mut body = doctor.registration();
    body.display_name = "x".repeat(201);
    w.refuses_admin(Action::RegisterIdentity(body.clone()), "invalid_payload");
    // 200 characters (of any width) are fine.
    registration.display_name = "é".repeat(200);
    w.submit(&patient, Action::RegisterIdentity(registration))
        .unwrap();
    body.display_name = "x".repeat(200);
    w.admin_submit(Action::RegisterIdentity(body)).unwrap();
}

// ---- doctors, insurers, admins ----

#[test]
fn the_admin_registers_doctors_and_insurers() {
    let mut w = World::memory();
    let admin = w.admin.id();
    for role in [Role::Doctor, Role::Insurer] {
        let actor = w.stranger(role);
        let mut body = actor.registration();
        body.display_name = "St Elsewhere".into();
        w.advance(10);
        let result = w.admin_submit(Action::RegisterIdentity(body)).unwrap();
        assert_eq!(result["actor"], actor.id().as_str());
        let (name, payload) = w.event();
        assert_eq!(name, "identity_registered");
        assert_eq!(payload["actor"], actor.id().as_str());
        assert_eq!(payload["by"], admin.as_str());
        let identity = w.query("identity", &[actor.id().as_str()]).unwrap();
        assert_eq!(identity["registered_by"], admin.as_str());
        assert_eq!(identity["registered_at"], w.now());
        assert_eq!(identity["display_name"], "St Elsewhere");
        assert_eq!(identity["active"], true);
        assert_eq!(identity["paillier"], serde_json::Value::Null);
    }
}

#[test]
fn an_admin_registered_by_the_admin_can_register_doctors() {
    let mut w = World::memory();
    let second = w.stranger(Role::Admin);
    w.admin_submit(Action::RegisterIdentity(second.registration()))
        .unwrap();
    let doctor = w.stranger(Role::Doctor);
    w.submit(&second, Action::RegisterIdentity(doctor.registration()))
        .unwrap();
    let identity = w.query("identity", &[doctor.id().as_str()]).unwrap();
    assert_eq!(identity["registered_by"], second.id().as_str());
}

#[test]
fn only_an_admin_registers_doctors_and_insurers() {
    let mut w = World::memory();
    let doctor = w.registered(Role::Doctor);
    let insurer = w.registered(Role::Insurer);
    let patient = w.patient(0);
    for role in [Role::Doctor, Role::Insurer, Role::Admin] {
        let newcomer = w.stranger(role);
        for signer in [&doctor, &insurer, &patient] {
            w.refuses_as(
                signer,
                Action::RegisterIdentity(newcomer.registration()),
                "wrong_role",
            );
        }
        refused(w.query("identity", &[newcomer.id().as_str()]), "not_found");
    }
}

#[test]
fn a_doctor_or_insurer_with_a_paillier_key_is_refused() {
    let mut w = World::memory();
    let patient_keys = w.stranger(Role::Patient).registration().paillier;
    for role in [Role::Doctor, Role::Insurer] {
        let actor = w.stranger(role);
        let mut body = actor.registration();
        body.paillier = patient_keys.clone();
        let err = w.refuses_admin(Action::RegisterIdentity(body), "invalid_payload");
        assert!(err.message.contains("paillier"), "{err:?}");
    }
}

#[test]
fn registering_an_existing_identity_is_refused_already_exists() {
    let mut w = World::memory();
    let doctor = w.registered(Role::Doctor);
    w.refuses_admin(
        Action::RegisterIdentity(doctor.registration()),
        "already_exists",
    );
    // Not even under another role.
    let mut as_insurer = doctor.registration();
    as_insurer.role = Role::Insurer;
    w.refuses_admin(Action::RegisterIdentity(as_insurer), "already_exists");
    // Nor the admin itself.
    let admin = w.admin.registration();
    w.refuses_admin(Action::RegisterIdentity(admin), "already_exists");
    let identity = w.query("identity", &[doctor.id().as_str()]).unwrap();
    assert_eq!(identity["role"], "doctor");
}

// ---- suspension ----

#[test]
fn the_admin_suspends_a_doctor_at_once() {
    let mut w = World::memory();
    let doctor = w.registered(Role::Doctor);
    w.advance(5);
    let result = w
        .admin_submit(suspend(&doctor, "licence withdrawn"))
        .unwrap();
    assert_eq!(result["actor"], doctor.id().as_str());
    assert_eq!(result["role"], "doctor");
    let identity = w.query("identity", &[doctor.id().as_str()]).unwrap();
    assert_eq!(identity["active"], false);
    assert_eq!(identity["suspension"], "licence withdrawn");
    let (name, payload) = w.event();
    assert_eq!(name, "identity_suspended");
    assert_eq!(payload["actor"], doctor.id().as_str());
    assert_eq!(payload["role"], "doctor");
    assert_eq!(payload["by"], w.admin.id().as_str());
}

#[test]
fn a_suspended_insurer_and_patient_are_refused_too() {
    let mut w = World::memory();
    let insurer = w.registered(Role::Insurer);
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    w.admin_submit(suspend(&insurer, "fraud")).unwrap();
    w.admin_submit(suspend(&patient, "deceased")).unwrap();
    let request = carechain_core::ids::RequestId::random(&mut w.rng);
    w.refuses_as(&patient, Action::Deny(Deny { request }), "signer_suspended");
    // A doctor cannot ask a suspended patient.
    let ask = Action::AccessRequest(AccessRequest {
        request,
        patient: patient.id(),
        actions: vec![AccessAction::Read],
        scope: Scope::All,
        purpose: PurposeOfUse::Treat,
        duration_secs: DAY,
    });
    w.refuses_as(&doctor, ask, "conflict");
    let product = carechain_core::ids::ProductId::random(&mut w.rng);
    w.refuses_as(
        &insurer,
        Action::PublishProduct(PublishProduct {
            product,
            name: "x".into(),
            currency: "EUR".into(),
            premium: 1,
            term_days: 30,
            items: vec![CoveredItem {
                code: "I10".into(),
                payout: 1,
            }],
        }),
        "signer_suspended",
    );
}

#[test]
fn only_an_admin_suspends() {
    let mut w = World::memory();
    let doctor = w.registered(Role::Doctor);
    let insurer = w.registered(Role::Insurer);
    let patient = w.patient(0);
    let target = w.registered(Role::Doctor);
    for signer in [&doctor, &insurer, &patient] {
        w.refuses_as(signer, suspend(&target, "no reason"), "wrong_role");
    }
    // Nobody can suspend the admin but another admin, and not even that admin itself.
    let admin = Actor {
        key: w.admin_key(),
        hpke: carechain_core::envelope::HpkeSecretKey::generate(&mut w.rng),
        paillier: None,
        role: Role::Admin,
    };
    w.refuses_as(&doctor, suspend(&admin, "coup"), "wrong_role");
    let identity = w.query("identity", &[target.id().as_str()]).unwrap();
    assert_eq!(identity["active"], true);
}

#[test]
fn an_admin_cannot_suspend_itself() {
    let mut w = World::memory();
    let admin = Actor {
        key: w.admin_key(),
        hpke: carechain_core::envelope::HpkeSecretKey::generate(&mut w.rng),
        paillier: None,
        role: Role::Admin,
    };
    w.refuses_admin(suspend(&admin, "tired"), "forbidden");
    let identity = w.query("identity", &[admin.id().as_str()]).unwrap();
    assert_eq!(identity["active"], true);
}

#[test]
fn suspending_twice_is_refused_conflict() {
    let mut w = World::memory();
    let doctor = w.registered(Role::Doctor);
    w.admin_submit(suspend(&doctor, "first")).unwrap();
    w.refuses_admin(suspend(&doctor, "second"), "conflict");
    let identity = w.query("identity", &[doctor.id().as_str()]).unwrap();
    assert_eq!(identity["suspension"], "first");
}

#[test]
fn suspending_an_unknown_identity_is_refused_not_found() {
    let mut w = World::memory();
    let stranger = w.stranger(Role::Doctor);
    w.refuses_admin(suspend(&stranger, "who?"), "not_found");
}

#[test]
fn suspending_without_a_reason_or_with_an_over_long_one_is_refused() {
    let mut w = World::memory();
    let doctor = w.registered(Role::Doctor);
    for reason in [String::new(), "   \n".into(), "r".repeat(201)] {
        let err = w.refuses_admin(suspend(&doctor, &reason), "invalid_payload");
        assert!(err.message.contains("reason"), "{err:?}");
    }
    let identity = w.query("identity", &[doctor.id().as_str()]).unwrap();
    assert_eq!(identity["active"], true);
    w.admin_submit(suspend(&doctor, &"r".repeat(200))).unwrap();
}

// ---- the Paillier modulus cap ----

/// A ledger initialised with a Paillier modulus cap of `bits`.
fn capped(bits: u32) -> World {
    World::memory_with_config(
        format!(r#"{{"audience":"{AUD}","rules":1,"max_paillier_bits":{bits}}}"#).as_bytes(),
    )
}

/// `registration` with an 8192-bit modulus (all ones: odd, and refused by
/// the cap before anyone could notice it is no Paillier modulus).
fn with_8192_bit_modulus(mut registration: RegisterIdentity) -> RegisterIdentity {
    if let Some(paillier) = registration.paillier.as_mut() {
        paillier.public_key = B64(vec![0xff; 1024]);
    }
    registration
}

#[test]
fn an_8192_bit_modulus_is_refused_by_the_cap_and_changes_nothing() {
    let mut w = capped(3072);
    let (patient, registration) = patient_registration(&mut w);
    let err = registration_invalid(&mut w, &patient, with_8192_bit_modulus(registration));
    assert!(
        err.message
            .contains("expected a modulus of at most 3072 bits, found 8192 bits"),
        "{err:?}"
    );
    let config = w.raw_query("config", &[]).unwrap();
    assert_eq!(config["max_paillier_bits"], 3072);
}

#[test]
fn a_modulus_at_the_cap_registers() {
    let mut w = capped(2048);
    let (patient, registration) = patient_registration(&mut w);
    w.submit(&patient, Action::RegisterIdentity(registration))
        .unwrap();
}

#[test]
fn a_ledger_without_a_cap_keeps_its_old_rules() {
    // Ledgers initialised before the cap: the config has no cap, and an
    // oversized modulus is refused as before, by the key checks.
    let mut w = World::memory();
    assert!(
        w.raw_query("config", &[])
            .unwrap()
            .get("max_paillier_bits")
            .is_none()
    );
    let (patient, registration) = patient_registration(&mut w);
    let err = registration_invalid(&mut w, &patient, with_8192_bit_modulus(registration));
    assert!(!err.message.contains("at most"), "{err:?}");
    assert!(err.message.contains("paillier"), "{err:?}");
}

#[test]
fn init_refuses_a_cap_outside_the_supported_sizes() {
    for bits in [0, 1024, 8193] {
        let mut w = World::uninitialised(carechain_testkit::MemoryDriver::new(T0));
        let token = w.admin_registration();
        let config = format!(r#"{{"audience":"{AUD}","max_paillier_bits":{bits}}}"#);
        let err = w.init_refused(
            &[config.into_bytes(), token.into_bytes()],
            "invalid_payload",
        );
        assert!(err.message.contains("2048..=8192"), "{bits}: {err:?}");
    }
}
