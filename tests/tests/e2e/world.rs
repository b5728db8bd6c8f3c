//! Each scenario's own cast (admin session, a doctor, an insurer, a patient
//! on a restored phone) and the common steps built from the public APIs.

use carechain_core::ids::{PolicyId, ProductId, RecordId, RequestId};
use carechain_core::statement::{AccessAction, Role};
use carechain_mobile::{AccessKind, RequestStatus};

use crate::http::now;
use crate::phone::Patient;
use crate::relay::Relay;
use crate::staff::{Staff, admin, enrol};

/// One scenario's actors, fresh on the shared relay.
pub struct Cast {
    pub admin: Staff,
    pub doctor: Staff,
    pub insurer: Staff,
    pub patient: Patient,
}

impl Cast {
    /// Enrols a doctor and an insurer and registers a patient on a restored phone.
    pub async fn new(relay: &Relay, tag: &str) -> Cast {
        let admin = admin(relay).await;
        let doctor = enrol(&admin, Role::Doctor, &format!("doctor-{tag}")).await;
        let insurer = enrol(&admin, Role::Insurer, &format!("insurer-{tag}")).await;
        let patient = Patient::restored(relay, &format!("patient-{tag}")).await;
        Cast {
            admin,
            doctor,
            insurer,
            patient,
        }
    }

    /// `doctor` asks for read and write; the patient's phone grants `granted`
    /// (every category) until `until`.
    pub async fn grant(&self, doctor: &Staff, granted: Vec<AccessKind>, until: i64) -> RequestId {
        let request = doctor
            .request_access(
                &self.patient.id,
                vec![AccessAction::Read, AccessAction::Write],
            )
            .await;
        let pending = self
            .patient
            .client
            .pending_requests()
            .await
            .expect("pending requests");
        assert!(
            pending.iter().any(|r| r.request_id == request.to_string()),
            "the request is pending on the phone: {pending:?}"
        );
        self.patient
            .client
            .approve(request.to_string(), granted, None, until)
            .await
            .expect("the patient approves");
        request
    }

    /// The cast's doctor gets read and write for a week.
    pub async fn grant_doctor(&self) -> RequestId {
        self.grant(
            &self.doctor,
            vec![AccessKind::Read, AccessKind::Write],
            now() + 7 * 86_400,
        )
        .await
    }

    /// The insurer publishes a product covering `code`; the patient buys it.
    pub async fn buy(&self, code: &str) -> (ProductId, PolicyId) {
        let product = self.insurer.publish(code, 120_000).await;
        let policy = self
            .patient
            .client
            .purchase(product.to_string())
            .await
            .expect("the patient buys");
        (product, policy.parse().expect("a policy id"))
    }

    /// A policy covering E11.9, issued, and then a record with that
    /// diagnosis written inside its term: a claim on it is valid.
    pub async fn insured_record(&self) -> (PolicyId, RecordId) {
        self.grant_doctor().await;
        let (_, policy) = self.buy("E11.9").await;
        self.insurer.issue(policy).await;
        let record = self.doctor.write_condition(&self.patient.id, "E11.9").await;
        (policy, record)
    }

    /// The phone's view of request `request`'s status.
    pub async fn request_status(&self, request: RequestId) -> RequestStatus {
        let all = self
            .patient
            .client
            .access_requests()
            .await
            .expect("requests");
        all.into_iter()
            .find(|r| r.request_id == request.to_string())
            .expect("the request is listed on the phone")
            .status
    }
}
