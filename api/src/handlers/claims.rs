//! Claims: patients file; the contract decides at once; patient and insurer
//! see decisions; the insurer marks approved claims paid.

use actix_web::post;
use carechain_core::ledger::{ClaimState, Query};

use crate::handlers::{Expect, forward_as_party, forward_new};
use crate::types::AccountRole;

statement_post! {
    /// A patient files a claim with a signed `file_claim`; the result holds the decision.
    file, "/v1/claims", tag = "claims", 201 => forward_new, &[AccountRole::Patient], "file_claim"
}

/// The query of claim `claim`.
fn claim_query(claim: String) -> Query {
    Query::Claim { claim }
}

own_list! {
    /// The caller's claims: a patient's own, or those against an insurer.
    list, "/v1/claims", tag = "claims", ClaimState, ClaimsForPatient, ClaimsForInsurer
}

party_get_one! {
    /// One claim and its decision, for its patient or its insurer.
    get_one, "/v1/claims/{id}", tag = "claims", ClaimState, [Patient, Insurer], claim_query
}

statement_post! {
    /// The insurer marks approved claim `id` paid with a signed `mark_paid`.
    paid, "/v1/claims/{id}/paid", tag = "claims", 200, id => forward_as_party::<ClaimState>,
        Expect::ok(&[AccountRole::Insurer], "mark_paid"), claim_query
}
