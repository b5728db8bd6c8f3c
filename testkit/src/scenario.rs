//! Stories written once and run on every backend: the same statements must
//! get the same answers (results, refusals with their status and code, claim
//! decisions) on the in-memory state, the embedded ledger and the Fabric
//! test peer. Where the clock is settable, time passes between the steps.

use carechain_core::ledger::Query;
use carechain_core::statement::{AccessAction, Action, MarkPaid, ReadRecord, Revoke, Role, Scope};

use crate::driver::{Driver, Outcome};
use crate::{DAY, World, decision};

/// What one step of a story came to: `ok`, a claim decision, or a refusal's status and code.
pub type Answer = Result<String, (u16, String)>;

/// The answers of a story, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transcript(pub Vec<(&'static str, Answer)>);

impl Transcript {
    /// Records `outcome` as the answer of `step`.
    pub fn push(&mut self, step: &'static str, outcome: Outcome) {
        let answer = outcome
            .map(|v| match v.get("decision") {
                Some(_) => format!("{:?}", decision(&v)),
                None => "ok".to_owned(),
            })
            .map_err(|e| (e.status, e.code));
        self.0.push((step, answer));
    }
}

/// The care story's answers on every backend.
pub fn care_story_answers() -> Transcript {
    let ok = || Ok("ok".to_owned());
    let refused = |status: u16, code: &str| Err((status, code.to_owned()));
    Transcript(vec![
        ("grant", ok()),
        ("grant replayed", refused(403, "replayed_nonce")),
        ("read", ok()),
        ("read without grant", refused(403, "forbidden")),
        ("claim", Ok(r#"("approved", None)"#.into())),
        (
            "claim again",
            Ok(r#"("rejected", Some("already_claimed"))"#.into()),
        ),
        (
            "claim wrong item",
            Ok(r#"("rejected", Some("proof_failed"))"#.into()),
        ),
        ("paid by the patient", refused(403, "wrong_role")),
        ("paid", Ok(r#"("approved", None)"#.into())),
        ("revoke", ok()),
        ("read after revoke", refused(403, "forbidden")),
        ("unknown policy", refused(404, "not_found")),
        ("access log entries", Ok("1".into())),
    ])
}

/// Consent, a replayed statement, insurance, records, claims (approved,
/// already claimed, proof failed), payment, revoke, refused reads, a query
/// for something that does not exist. Returns its transcript (compare with
/// [`care_story_answers`]).
pub fn care_story<D: Driver>(w: &mut World<D>) -> Transcript {
    let mut t = Transcript::default();
    let patient = w.patient(0);
    let doctor = w.registered(Role::Doctor);
    let other_doctor = w.registered(Role::Doctor);
    let insurer = w.registered(Role::Insurer);
    let all = vec![AccessAction::Read, AccessAction::Write];
    let request = w.request(&doctor, &patient, all.clone(), Scope::All);
    let body = w.grant_body(&patient, &doctor, request, all, Scope::All, 7, &[]);
    let grant = w.sign(&patient.key, Action::Grant(body));
    t.push("grant", w.submit_token(&grant));
    t.push("grant replayed", w.submit_token(&grant));
    let product = w.product(&insurer, &[("I10", 10_000), ("E11.9", 50_000)]);
    let policy = w.policy(&insurer, &patient, product);
    w.try_advance(3600);
    let record = w.write(&doctor, &patient, "E11.9");
    let other = w.write(&doctor, &patient, "I10");
    let read = Action::ReadRecord(ReadRecord { record });
    t.push("read", w.submit(&doctor, read.clone()));
    t.push("read without grant", w.submit(&other_doctor, read.clone()));
    let approved = w.claim(&patient, policy, record, 1);
    t.push("claim", approved.clone());
    t.push("claim again", w.claim(&patient, policy, record, 1));
    t.push("claim wrong item", w.claim(&patient, policy, other, 1));
    let claim = approved.unwrap()["claim"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let paid = |reference: &str| {
        Action::MarkPaid(MarkPaid {
            claim,
            reference: reference.into(),
        })
    };
    t.push("paid by the patient", w.submit(&patient, paid("wire-0")));
    t.push("paid", w.submit(&insurer, paid("wire-1")));
    t.push(
        "revoke",
        w.submit(&patient, Action::Revoke(Revoke { request })),
    );
    w.try_advance(DAY);
    t.push("read after revoke", w.submit(&doctor, read));
    let unknown = Query::Policy {
        policy: "no-such-policy".into(),
    };
    t.push("unknown policy", w.ask(&unknown));
    let log = w.query("access_log", &[patient.id().as_str()]).unwrap();
    let reads = log["items"].as_array().map_or(0, Vec::len);
    t.0.push(("access log entries", Ok(reads.to_string())));
    w.query("claims_for_patient", &[patient.id().as_str()])
        .unwrap();
    t
}
