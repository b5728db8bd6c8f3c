//! Consent, modelled on FHIR Consent: a doctor's access request, and the
//! patient's grant (no wider than asked, with an end time and the re-wrapped
//! data keys of the records in scope), deny and revoke.
//!
//! Whether a grant is in force is decided at every access by
//! [`AccessRequestState::allows`] — status *and* end time — so an expired
//! grant refuses access without anyone having to flip a flag.

use std::collections::BTreeSet;

use carechain_core::ids::{ActorId, RecordId, RequestId};
use carechain_core::ledger::{ConsentEvent, ConsentOutcome, Event};
use carechain_core::statement::{
    AccessAction, AccessRequest, Deny, Grant, RecordCategory, Revoke, Role, Scope,
};

use crate::contract::{Tx, Verified, respond};
use crate::error::ContractError;
use crate::model::{
    AccessRequestState, GrantTerms, Identity, RecordState, RequestStatus, Signer, WrappedKeyState,
    keys,
};

/// Longest access a doctor may ask for: one year.
pub const MAX_DURATION_SECS: i64 = 366 * 86_400;
/// Most records one grant may carry keys for.
pub(crate) const MAX_GRANT_KEYS: usize = 10_000;

fn check_actions(field: &'static str, actions: &[AccessAction]) -> Result<(), ContractError> {
    let distinct: BTreeSet<_> = actions.iter().collect();
    if actions.is_empty() || distinct.len() != actions.len() {
        return Err(ContractError::invalid(
            field,
            "expected a non-empty list of distinct actions",
        ));
    }
    Ok(())
}

fn check_scope(field: &'static str, scope: &Scope) -> Result<(), ContractError> {
    if let Scope::Categories(list) = scope {
        let distinct: BTreeSet<_> = list.iter().collect();
        if list.is_empty() || distinct.len() != list.len() {
            return Err(ContractError::invalid(
                field,
                "expected a non-empty list of distinct categories",
            ));
        }
    }
    Ok(())
}

/// Loads a registered, active patient.
pub(crate) fn load_patient(tx: &mut Tx<'_>, patient: &ActorId) -> Result<Identity, ContractError> {
    let identity: Identity = tx.load(&keys::identity(patient), "patient", patient)?;
    if identity.role != Role::Patient {
        return Err(ContractError::not_found("patient", patient));
    }
    if !identity.active {
        return Err(ContractError::Conflict(format!(
            "patient {patient} is suspended"
        )));
    }
    Ok(identity)
}

/// The grant under which `doctor` may do `action` on a record of `category`
/// of `patient` now, if any.
pub(crate) fn grant_in_force(
    tx: &mut Tx<'_>,
    patient: &ActorId,
    doctor: &ActorId,
    action: AccessAction,
    category: RecordCategory,
) -> Result<Option<RequestId>, ContractError> {
    let now = tx.now();
    let prefix = format!("pair-requests/{patient}/{doctor}/");
    for id in tx.ids_under(&prefix, None, usize::MAX)? {
        let request: AccessRequestState = tx.load(&keys::request(&id), "access request", &id)?;
        if request.allows(action, category, now) {
            return Ok(Some(request.request));
        }
    }
    Ok(None)
}

/// The doctors who may read records of `category` of `patient` now.
pub(crate) fn current_readers(
    tx: &mut Tx<'_>,
    patient: &ActorId,
    category: RecordCategory,
) -> Result<BTreeSet<ActorId>, ContractError> {
    let now = tx.now();
    let mut readers = BTreeSet::new();
    let prefix = format!("patient-requests/{patient}/");
    for id in tx.ids_under(&prefix, None, usize::MAX)? {
        let request: AccessRequestState = tx.load(&keys::request(&id), "access request", &id)?;
        if request.allows(AccessAction::Read, category, now) {
            // A suspended doctor is no reader: new records are not wrapped for them.
            let doctor: Signer = tx.load(
                &keys::identity(&request.doctor),
                "identity",
                &request.doctor,
            )?;
            if doctor.active {
                readers.insert(request.doctor);
            }
        }
    }
    Ok(readers)
}

/// `access_request`: a doctor asks a patient for access.
pub(crate) fn request(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &AccessRequest,
) -> Result<Vec<u8>, ContractError> {
    let doctor = verified
        .signer_as(Role::Doctor, "request access")?
        .actor
        .clone();
    load_patient(tx, &body.patient)?;
    check_actions("actions", &body.actions)?;
    check_scope("scope", &body.scope)?;
    if !(1..=MAX_DURATION_SECS).contains(&body.duration_secs) {
        return Err(ContractError::invalid(
            "duration_secs",
            format!(
                "expected 1..={MAX_DURATION_SECS} seconds, found {}",
                body.duration_secs
            ),
        ));
    }
    let key = keys::request(body.request);
    if tx.exists(&key)? {
        return Err(ContractError::exists("access request", body.request));
    }
    let state = AccessRequestState {
        request: body.request,
        doctor: doctor.clone(),
        patient: body.patient.clone(),
        actions: body.actions.clone(),
        scope: body.scope.clone(),
        purpose: body.purpose,
        duration_secs: body.duration_secs,
        requested_at: tx.now(),
        status: RequestStatus::Pending,
        grant: None,
        closed_at: None,
    };
    tx.put(&key, &state)?;
    tx.index(&keys::patient_request(&body.patient, body.request))?;
    tx.index(&keys::doctor_request(&doctor, body.request))?;
    tx.index(&keys::pair_request(&body.patient, &doctor, body.request))?;
    tx.emit(Event::AccessRequested(ConsentEvent {
        request: body.request,
        patient: body.patient.clone(),
        doctor,
        expires_at: None,
    }))?;
    respond(&ConsentOutcome {
        request: body.request,
        status: RequestStatus::Pending,
    })
}

/// Loads a request addressed to the signing patient.
fn own_request(
    tx: &mut Tx<'_>,
    verified: &Verified,
    request: RequestId,
    action: &'static str,
) -> Result<AccessRequestState, ContractError> {
    let patient = verified.signer_as(Role::Patient, action)?.actor.clone();
    let state: AccessRequestState = tx.load(&keys::request(request), "access request", request)?;
    if state.patient != patient {
        // Another patient's request is reported as absent: ids are not an oracle.
        return Err(ContractError::not_found("access request", request));
    }
    Ok(state)
}

/// `grant`: the patient grants (part of) a pending request.
pub(crate) fn grant(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &Grant,
) -> Result<Vec<u8>, ContractError> {
    let mut state = own_request(tx, verified, body.request, "grant access")?;
    if state.status != RequestStatus::Pending {
        return Err(ContractError::Conflict(format!(
            "request {} is {:?}, expected pending",
            body.request, state.status
        )));
    }
    let doctor: Signer = tx.load(&keys::identity(&state.doctor), "identity", &state.doctor)?;
    if !doctor.active {
        return Err(ContractError::Conflict(format!(
            "doctor {} is suspended and cannot be granted access",
            state.doctor
        )));
    }
    check_actions("actions", &body.actions)?;
    check_scope("scope", &body.scope)?;
    if let Some(extra) = body.actions.iter().find(|a| !state.actions.contains(a)) {
        return Err(ContractError::invalid(
            "actions",
            format!("expected a subset of the requested actions, found {extra:?}"),
        ));
    }
    if !body.scope.is_within(&state.scope) {
        return Err(ContractError::invalid(
            "scope",
            "expected a scope no wider than requested",
        ));
    }
    let now = tx.now();
    let latest = now.saturating_add(state.duration_secs);
    if body.expires_at <= now || body.expires_at > latest {
        return Err(ContractError::invalid(
            "expires_at",
            format!(
                "expected an end time after now ({now}) and no later than the requested duration allows ({latest}), found {}",
                body.expires_at
            ),
        ));
    }

    // A read grant carries the data key of every record in scope, re-wrapped for the doctor.
    let mut in_scope = BTreeSet::new();
    if body.actions.contains(&AccessAction::Read) {
        let prefix = format!("patient-records/{}/", state.patient);
        for id in tx.ids_under(&prefix, None, usize::MAX)? {
            let record: RecordState = tx.load(&keys::record(&id), "record", &id)?;
            if body.scope.covers(record.category) {
                in_scope.insert(record.record);
            }
        }
    }
    let offered: BTreeSet<RecordId> = body.keys.iter().map(|k| k.record).collect();
    if offered.len() != body.keys.len() || body.keys.len() > MAX_GRANT_KEYS {
        return Err(ContractError::invalid(
            "keys",
            "expected at most one key per record",
        ));
    }
    if offered != in_scope {
        let missing = in_scope.difference(&offered).count();
        let extra = offered.difference(&in_scope).count();
        return Err(ContractError::invalid(
            "keys",
            format!(
                "expected a wrapped key for each of the {} records in scope, found {missing} missing and {extra} not in scope",
                in_scope.len()
            ),
        ));
    }
    for key in &body.keys {
        crate::records::check_wrapped("keys", &key.enc, &key.ciphertext)?;
        tx.put(
            &keys::record_key(key.record, &state.doctor),
            &WrappedKeyState {
                enc: key.enc.clone(),
                ciphertext: key.ciphertext.clone(),
            },
        )?;
    }

    state.status = RequestStatus::Granted;
    state.grant = Some(GrantTerms {
        actions: body.actions.clone(),
        scope: body.scope.clone(),
        expires_at: body.expires_at,
        granted_at: now,
    });
    tx.put(&keys::request(body.request), &state)?;
    tx.emit(Event::AccessGranted(ConsentEvent {
        request: body.request,
        patient: state.patient,
        doctor: state.doctor,
        expires_at: Some(body.expires_at),
    }))?;
    respond(&ConsentOutcome {
        request: body.request,
        status: RequestStatus::Granted,
    })
}

/// Moves the signing patient's request from `from` to `to` (deny, revoke),
/// records when, and tells the doctor with `event`.
fn close(
    tx: &mut Tx<'_>,
    verified: &Verified,
    request: RequestId,
    (from, to): (RequestStatus, RequestStatus),
    action: &'static str,
    event: fn(ConsentEvent) -> Event,
) -> Result<Vec<u8>, ContractError> {
    let mut state = own_request(tx, verified, request, action)?;
    if state.status != from {
        return Err(ContractError::Conflict(format!(
            "request {request} is {:?}, expected {}",
            state.status,
            match from {
                RequestStatus::Pending => "pending",
                _ => "granted",
            }
        )));
    }
    state.status = to;
    state.closed_at = Some(tx.now());
    tx.put(&keys::request(request), &state)?;
    tx.emit(event(ConsentEvent {
        request,
        patient: state.patient,
        doctor: state.doctor,
        expires_at: None,
    }))?;
    respond(&ConsentOutcome {
        request,
        status: to,
    })
}

/// `deny`: the patient refuses a pending request.
pub(crate) fn deny(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &Deny,
) -> Result<Vec<u8>, ContractError> {
    let transition = (RequestStatus::Pending, RequestStatus::Denied);
    close(
        tx,
        verified,
        body.request,
        transition,
        "deny access",
        Event::AccessDenied,
    )
}

/// `revoke`: the patient withdraws a grant, effective at once.
pub(crate) fn revoke(
    tx: &mut Tx<'_>,
    verified: &Verified,
    body: &Revoke,
) -> Result<Vec<u8>, ContractError> {
    let transition = (RequestStatus::Granted, RequestStatus::Revoked);
    close(
        tx,
        verified,
        body.request,
        transition,
        "revoke access",
        Event::AccessRevoked,
    )
}
