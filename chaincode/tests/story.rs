//! The care story of the test kit on the in-memory state: the same answers
//! the embedded ledger and the Fabric test peer give (see the ledger's
//! `conformance` and `real_contract` tests).

use carechain_testkit::World;
use carechain_testkit::scenario::{care_story, care_story_answers};

#[test]
fn the_care_story_answers_as_on_every_backend() {
    let mut w = World::memory();
    assert_eq!(care_story(&mut w), care_story_answers());
}
