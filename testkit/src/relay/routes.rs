//! The one mapping between the contract's vocabulary and the relay's API:
//! each statement's action to its POST route, and each typed query to the
//! GET route that answers it, asked by someone allowed to read the object —
//! which [`Parties`] learns from the statements the driver forwarded.

use std::collections::HashMap;

use carechain_core::ids::ActorId;
use carechain_core::ledger::{PageArgs, Query};
use carechain_core::statement::{AccessAction, Action};

/// The POST route of a statement's action (relative to the relay's base
/// URL), `account_of` naming the account of a suspended actor; `None` for a
/// registration, which the driver routes by who signed it.
pub fn post_route(act: &Action, account_of: impl Fn(&ActorId) -> String) -> Option<String> {
    Some(match act {
        Action::RegisterIdentity(_) => return None,
        Action::SuspendIdentity(s) => {
            format!("v1/admin/accounts/{}/suspend", account_of(&s.actor))
        }
        Action::AccessRequest(_) => "v1/requests".into(),
        Action::Grant(g) => format!("v1/requests/{}/grant", g.request),
        Action::Deny(d) => format!("v1/requests/{}/deny", d.request),
        Action::Revoke(r) => format!("v1/requests/{}/revoke", r.request),
        Action::WriteRecord(_) => "v1/records".into(),
        Action::ReadRecord(r) => format!("v1/records/{}/read", r.record),
        Action::PublishProduct(_) => "v1/products".into(),
        Action::PurchasePolicy(_) => "v1/policies".into(),
        Action::IssuePolicy(i) => format!("v1/policies/{}/issue", i.policy),
        Action::DeclinePolicy(d) => format!("v1/policies/{}/decline", d.policy),
        Action::FileClaim(_) => "v1/claims".into(),
        Action::MarkPaid(m) => format!("v1/claims/{}/paid", m.claim),
    })
}

/// Who asks a query: the admin or an actor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asker {
    /// The relay's first admin.
    Admin,
    /// A registered actor.
    Actor(ActorId),
}

/// A GET route answering a query.
#[derive(Debug)]
pub struct GetRoute {
    /// The path and query string, relative to the relay's base URL.
    pub path: String,
    /// Whose session asks.
    pub asker: Asker,
    /// The field of the answer that is the contract's (`None`: all of it).
    pub field: Option<&'static str>,
}

/// `path` with a page's `limit` and `after`.
fn paged(path: &str, page: &PageArgs) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    match &page.after {
        Some(after) => format!("{path}{sep}limit={}&after={after}", page.limit),
        None => format!("{path}{sep}limit={}", page.limit),
    }
}

/// Who may read what, learnt from the statements forwarded.
#[derive(Debug, Default)]
pub struct Parties {
    /// The patient of each access request, record, policy and claim (by id).
    objects: HashMap<String, ActorId>,
    /// Each access request's doctor.
    doctors: HashMap<String, ActorId>,
    /// For each patient, a doctor with a write grant (who may list its readers).
    writers: HashMap<ActorId, ActorId>,
    /// A registered patient, who asks for objects nobody is known to hold.
    pub any_patient: Option<ActorId>,
}

impl Parties {
    /// Remembers who may read what `act`, signed by `signer`, made.
    pub fn learn(&mut self, signer: &ActorId, act: &Action) {
        let (id, patient) = match act {
            Action::AccessRequest(r) => {
                let id = r.request.to_string();
                self.doctors.insert(id.clone(), signer.clone());
                (id, r.patient.clone())
            }
            Action::Grant(g) if g.actions.contains(&AccessAction::Write) => {
                if let Some(doctor) = self.doctors.get(&g.request.to_string()) {
                    self.writers.insert(signer.clone(), doctor.clone());
                }
                return;
            }
            Action::WriteRecord(w) => (w.record.to_string(), w.patient.clone()),
            Action::PurchasePolicy(p) => (p.policy.to_string(), signer.clone()),
            Action::FileClaim(c) => (c.claim.to_string(), signer.clone()),
            _ => return,
        };
        self.objects.insert(id, patient);
    }

    /// The patient of object `id`, or any patient (who is then told it is not found).
    fn party(&self, id: &str) -> Option<Asker> {
        let patient = self.objects.get(id).or(self.any_patient.as_ref());
        Some(patient.map_or(Asker::Admin, |p| Asker::Actor(p.clone())))
    }

    /// The GET route answering `query`, or `None` where the API has none (the
    /// configuration, a statement's use, own keys, another reader's key, the
    /// readers of a patient no doctor may write for).
    pub fn get_route(&self, query: &Query) -> Option<GetRoute> {
        let me = |actor: &str| actor.parse().map(Asker::Actor).ok();
        let route = |path: String, asker: Option<Asker>, field| {
            asker.map(|asker| GetRoute { path, asker, field })
        };
        let admin = Some(Asker::Admin);
        let own_records =
            |patient: &str, page| route(paged("v1/patients/me/records", page), me(patient), None);
        match query {
            Query::Config {} | Query::Statement { .. } | Query::OwnKeys { .. } => None,
            Query::Identity { actor } => route(format!("v1/identities/{actor}"), admin, None),
            Query::Request { request: id } => {
                route(format!("v1/requests/{id}"), self.party(id), None)
            }
            Query::RequestsForPatient { patient: who, page }
            | Query::RequestsByDoctor { doctor: who, page } => {
                route(paged("v1/requests", page), me(who), None)
            }
            Query::Record { record: id } => {
                route(format!("v1/records/{id}"), self.party(id), Some("record"))
            }
            Query::RecordKey { record: id, reader } => {
                let asker = me(reader).filter(|asker| Some(asker) == self.party(id).as_ref());
                route(format!("v1/records/{id}"), asker, Some("key"))
            }
            Query::RecordsForPatient { patient, page } => own_records(patient, page),
            Query::RecordsWithKeys {
                patient,
                reader,
                page,
            } if patient == reader => own_records(patient, page),
            Query::RecordsWithKeys {
                patient,
                reader,
                page,
            } => route(
                paged(&format!("v1/patients/{patient}/records"), page),
                me(reader),
                None,
            ),
            Query::Readers { patient, category } => {
                let category = serde_json::to_value(category).ok()?;
                let path = format!(
                    "v1/patients/{patient}/readers?category={}",
                    category.as_str()?
                );
                route(
                    path,
                    self.writers.get(patient).cloned().map(Asker::Actor),
                    None,
                )
            }
            Query::AccessLog { patient, page } => {
                route(paged("v1/patients/me/access-log", page), me(patient), None)
            }
            Query::Product { product } => route(format!("v1/products/{product}"), admin, None),
            Query::Products { page } => route(paged("v1/products", page), admin, None),
            Query::Policy { policy: id } => {
                route(format!("v1/policies/{id}"), self.party(id), None)
            }
            Query::PoliciesForPatient { patient: who, page }
            | Query::PoliciesForInsurer { insurer: who, page } => {
                route(paged("v1/policies", page), me(who), None)
            }
            Query::Claim { claim: id } => route(format!("v1/claims/{id}"), self.party(id), None),
            Query::ClaimsForPatient { patient: who, page }
            | Query::ClaimsForInsurer { insurer: who, page } => {
                route(paged("v1/claims", page), me(who), None)
            }
        }
    }
}
