//! Reading the ICD-10-CM code of a FHIR R4 `Condition`: [`validate`] checks
//! a doctor's document before anything is encrypted or sent;
//! [`condition_code`] reads the code back out of an opened record.
//!
//! Accepted: one `Condition`, or a `Bundle` holding exactly one `Condition`
//! and any number of `Encounter` and `Observation` resources. The Condition
//! must carry a coding in the ICD-10-CM system with a valid, billable-shaped
//! code, which is the diagnosis the record's Paillier ciphertexts encrypt;
//! a `subject` reference, when present, must name the patient written for.

use serde_json::Value;

use crate::icd10::Icd10Code;

/// The ICD-10-CM coding system URI.
pub const ICD10_CM_SYSTEM: &str = "http://hl7.org/fhir/sid/icd-10-cm";

/// Why a FHIR document was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FhirError {
    /// Not JSON.
    #[error("expected FHIR R4 JSON, found invalid JSON: {0}")]
    Json(String),
    /// The top-level resource type is not accepted.
    #[error("expected resourceType \"Condition\" or \"Bundle\", found {0}")]
    TopLevel(String),
    /// A bundle entry has a resource type a record does not hold.
    #[error(
        "bundle entry {index}: expected resourceType Condition, Encounter or Observation, found {found}"
    )]
    Entry {
        /// The entry's index.
        index: usize,
        /// The resource type found.
        found: String,
    },
    /// Not exactly one Condition.
    #[error("expected exactly one Condition, found {0}")]
    Conditions(usize),
    /// The Condition has no ICD-10-CM coding.
    #[error(
        "Condition.code: expected a coding with system {ICD10_CM_SYSTEM} and a code, found none"
    )]
    MissingCode,
    /// The code is not a valid ICD-10-CM code.
    #[error("Condition.code: {0}")]
    BadCode(String),
    /// The subject names another patient.
    #[error("Condition.subject: expected Patient/{expected}, found {found}")]
    Subject {
        /// The patient written for.
        expected: String,
        /// The reference found.
        found: String,
    },
}

/// A validated FHIR document and the diagnosis it records.
#[derive(Debug)]
pub struct ValidRecord {
    /// The document, as given.
    pub json: Value,
    /// The Condition's ICD-10-CM code.
    pub code: Icd10Code,
}

fn resource_type(value: &Value) -> String {
    match value.get("resourceType").and_then(Value::as_str) {
        Some(t) => format!("{t:?}"),
        None => "no resourceType".into(),
    }
}

/// Parses and validates `text` as a record for `patient` (an actor id).
pub fn validate(text: &str, patient: &str) -> Result<ValidRecord, FhirError> {
    let json: Value = serde_json::from_str(text).map_err(|e| FhirError::Json(e.to_string()))?;
    let conditions: Vec<&Value> = match json.get("resourceType").and_then(Value::as_str) {
        Some("Condition") => vec![&json],
        Some("Bundle") => {
            let entries = json.get("entry").and_then(Value::as_array);
            let mut found = Vec::new();
            for (index, entry) in entries.into_iter().flatten().enumerate() {
                let resource = &entry["resource"];
                match resource.get("resourceType").and_then(Value::as_str) {
                    Some("Condition") => found.push(resource),
                    Some("Encounter" | "Observation") => {}
                    _ => {
                        return Err(FhirError::Entry {
                            index,
                            found: resource_type(resource),
                        });
                    }
                }
            }
            found
        }
        _ => return Err(FhirError::TopLevel(resource_type(&json))),
    };
    let [condition] = conditions.as_slice() else {
        return Err(FhirError::Conditions(conditions.len()));
    };
    if let Some(reference) = condition["subject"]["reference"].as_str() {
        let expected = format!("Patient/{patient}");
        if reference != expected {
            return Err(FhirError::Subject {
                expected: patient.to_owned(),
                found: reference.to_owned(),
            });
        }
    }
    let code = icd10_coding(condition).ok_or(FhirError::MissingCode)?;
    let code: Icd10Code = code
        .parse()
        .map_err(|e: crate::icd10::Icd10Error| FhirError::BadCode(e.to_string()))?;
    Ok(ValidRecord { json, code })
}

/// The ICD-10-CM code text of a `Condition` resource.
fn icd10_coding(condition: &Value) -> Option<&str> {
    condition["code"]["coding"]
        .as_array()?
        .iter()
        .find(|c| c["system"].as_str() == Some(ICD10_CM_SYSTEM))
        .and_then(|c| c["code"].as_str())
}

/// The ICD-10-CM code text of the first `Condition` in `value` (the resource
/// itself or an entry of a `Bundle`), unchecked: what an opened record says.
pub fn condition_code(value: &Value) -> Option<&str> {
    match value["resourceType"].as_str()? {
        "Condition" => icd10_coding(value),
        "Bundle" => value["entry"]
            .as_array()?
            .iter()
            .find_map(|e| condition_code(&e["resource"])),
        _ => None,
    }
}

/// A minimal Condition for `patient` with ICD-10-CM `code` (used by the demo).
pub fn condition(patient: &str, code: &str, text: &str) -> Value {
    serde_json::json!({
        "resourceType": "Condition",
        "subject": {"reference": format!("Patient/{patient}")},
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": "active"}]},
        "code": {"coding": [{"system": ICD10_CM_SYSTEM, "code": code}], "text": text},
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn accepts_a_condition_and_a_bundle_with_encounter_and_observation() {
        let c = condition("p1", "E11.9", "Type 2 diabetes");
        let ok = validate(&c.to_string(), "p1").unwrap();
        assert_eq!(ok.code.to_string(), "E11.9");
        let bundle = json!({"resourceType": "Bundle", "type": "collection", "entry": [
            {"resource": {"resourceType": "Encounter", "status": "finished"}},
            {"resource": c},
            {"resource": {"resourceType": "Observation", "status": "final"}}]});
        assert_eq!(
            validate(&bundle.to_string(), "p1")
                .unwrap()
                .code
                .to_string(),
            "E11.9"
        );
    }

    #[test]
    fn refuses_bad_documents_with_what_was_expected() {
        let wrong = json!({"resourceType": "Patient"}).to_string();
        assert_eq!(
            validate(&wrong, "p1").unwrap_err(),
            FhirError::TopLevel("\"Patient\"".into())
        );
        let no_code = json!({"resourceType": "Condition", "code": {"coding": [
            {"system": "http://snomed.info/sct", "code": "44054006"}]}});
        assert_eq!(
            validate(&no_code.to_string(), "p1").unwrap_err(),
            FhirError::MissingCode
        );
        let bad = condition("p1", "Z99.ZZZZ9", "x").to_string();
        assert!(matches!(validate(&bad, "p1"), Err(FhirError::BadCode(_))));
        let other = condition("p2", "E11.9", "x").to_string();
        assert!(matches!(
            validate(&other, "p1"),
            Err(FhirError::Subject { .. })
        ));
        let two = json!({"resourceType": "Bundle", "entry": [
            {"resource": condition("p1", "E11.9", "a")},
            {"resource": condition("p1", "I10", "b")}]});
        assert_eq!(
            validate(&two.to_string(), "p1").unwrap_err(),
            FhirError::Conditions(2)
        );
        let med = json!({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "MedicationRequest"}}]});
        assert!(matches!(
            validate(&med.to_string(), "p1"),
            Err(FhirError::Entry { index: 0, .. })
        ));
        assert!(matches!(validate("{", "p1"), Err(FhirError::Json(_))));
    }

    #[test]
    fn reads_the_icd10_code_of_a_condition_alone_or_in_a_bundle() {
        let condition = json!({"resourceType": "Condition", "code": {"coding": [
            {"system": "http://snomed.info/sct", "code": "44054006"},
            {"system": ICD10_CM_SYSTEM, "code": "E11.9"}]}});
        assert_eq!(condition_code(&condition), Some("E11.9"));
        let bundle = json!({"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Encounter"}}, {"resource": condition}]});
        assert_eq!(condition_code(&bundle), Some("E11.9"));
        let other = json!({"resourceType": "Condition", "code": {"coding": [
            {"system": "http://snomed.info/sct", "code": "44054006"}]}});
        assert_eq!(condition_code(&other), None);
        assert_eq!(condition_code(&json!("E11.9")), None);
    }
}
