//! The channel's ledger, kept in memory: real `common.Block`s chained by
//! header hash, the world state with each key's version (block, tx), the
//! key history, and the transaction index.
//!
//! Block 0 is a genesis block holding one `CONFIG` envelope, as a channel's
//! genesis block does (its config is empty: the channel's MSPs and policies
//! are fixed in code here). Each ordered transaction is cut into a block of
//! its own, from block 1 on, as an orderer with `BatchSize.MaxMessageCount: 1`
//! does. The committer validates it as Fabric's does ([`crate::validate`]);
//! an invalid transaction stays in its block with its code in the
//! `TRANSACTIONS_FILTER` metadata, its writes unapplied and its event unsent.

use std::collections::{BTreeMap, HashMap};

use carechain_fabric_protos::common::{
    self, Block, BlockData, BlockHeader, BlockMetadata, BlockMetadataIndex, ChannelHeader,
    Envelope, HeaderType, Payload,
};
use carechain_fabric_protos::kvrwset::{KvRead, KvWrite, Version};
use carechain_fabric_protos::prost::Message;
use carechain_fabric_protos::prost_types::Timestamp;
use carechain_fabric_protos::protos::{ChaincodeEvent, TxValidationCode};
use carechain_fabric_protos::queryresult::KeyModification;
use sha2::{Digest, Sha256};

/// A committed value and the version (block, tx) that wrote it.
#[derive(Clone, Debug)]
struct Entry {
    value: Vec<u8>,
    version: Version,
}

/// Where a transaction was committed and how it was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxStatus {
    /// The block holding it.
    pub block: u64,
    /// Its validation code.
    pub code: TxValidationCode,
}

/// What the committer learned from a transaction it validated.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// The transaction id.
    pub tx_id: String,
    /// The channel header's timestamp (the history's timestamp).
    pub timestamp: Option<Timestamp>,
    /// Writes by namespace, applied when valid.
    pub writes: Vec<(String, Vec<KvWrite>)>,
    /// The chaincode event, delivered when valid.
    pub event: Option<ChaincodeEvent>,
}

/// The ledger of one channel.
#[derive(Debug)]
pub struct Ledger {
    blocks: Vec<Block>,
    /// Per block, per transaction: its event when the transaction was valid.
    events: Vec<Vec<ChaincodeEvent>>,
    state: BTreeMap<String, BTreeMap<String, Entry>>,
    history: HashMap<(String, String), Vec<KeyModification>>,
    index: HashMap<String, TxStatus>,
}

/// SHA-256 over the ASN.1 DER `SEQUENCE { INTEGER number, OCTET STRING
/// previous_hash, OCTET STRING data_hash }`, as `protoutil.BlockHeaderHash`.
pub fn block_header_hash(header: &BlockHeader) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
        out.push(tag);
        let len = content.len();
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
        out.extend_from_slice(content);
    }
    let mut number: Vec<u8> = header
        .number
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    if number.first().is_none_or(|b| b & 0x80 != 0) {
        number.insert(0, 0);
    }
    let mut body = Vec::new();
    tlv(0x02, &number, &mut body);
    tlv(0x04, &header.previous_hash, &mut body);
    tlv(0x04, &header.data_hash, &mut body);
    let mut der = Vec::new();
    tlv(0x30, &body, &mut der);
    Sha256::digest(der).to_vec()
}

/// SHA-256 over the concatenated envelopes, as `protoutil.ComputeBlockDataHash`.
pub fn block_data_hash(data: &BlockData) -> Vec<u8> {
    let mut hasher = Sha256::new();
    for envelope in &data.data {
        hasher.update(envelope);
    }
    hasher.finalize().to_vec()
}

fn version(block: u64, tx: u64) -> Version {
    Version {
        block_num: block,
        tx_num: tx,
    }
}

impl Ledger {
    /// A ledger holding only the genesis block of `channel`.
    pub fn new(channel: &str, timestamp: Timestamp) -> Self {
        let header = ChannelHeader {
            r#type: HeaderType::Config as i32,
            version: 0,
            timestamp: Some(timestamp),
            channel_id: channel.to_owned(),
            ..Default::default()
        };
        let payload = Payload {
            header: Some(common::Header {
                channel_header: header.encode_to_vec(),
                signature_header: Vec::new(),
            }),
            // An empty `common.ConfigEnvelope` (configtx.proto is not vendored) encodes as no bytes.
            data: Vec::new(),
        };
        let envelope = Envelope {
            payload: payload.encode_to_vec(),
            signature: Vec::new(),
        };
        let mut ledger = Self {
            blocks: Vec::new(),
            events: Vec::new(),
            state: BTreeMap::new(),
            history: HashMap::new(),
            index: HashMap::new(),
        };
        ledger.append(envelope.encode_to_vec(), TxValidationCode::Valid, None);
        ledger
    }

    /// The number of blocks.
    pub fn height(&self) -> u64 {
        self.blocks.len() as u64
    }

    /// Block `number`, if committed.
    pub fn block(&self, number: u64) -> Option<&Block> {
        usize::try_from(number)
            .ok()
            .and_then(|n| self.blocks.get(n))
    }

    /// The events of the valid transactions of block `number`, in order.
    pub fn events(&self, number: u64) -> &[ChaincodeEvent] {
        usize::try_from(number)
            .ok()
            .and_then(|n| self.events.get(n))
            .map_or(&[], Vec::as_slice)
    }

    /// `(height, current block hash, previous block hash)`.
    pub fn chain_info(&self) -> common::BlockchainInfo {
        let last = self.blocks.last().and_then(|b| b.header.as_ref());
        common::BlockchainInfo {
            height: self.height(),
            current_block_hash: last.map(block_header_hash).unwrap_or_default(),
            previous_block_hash: last.map(|h| h.previous_hash.clone()).unwrap_or_default(),
            bootstrapping_snapshot_info: None,
        }
    }

    /// Where and how transaction `tx_id` was committed.
    pub fn status(&self, tx_id: &str) -> Option<TxStatus> {
        self.index.get(tx_id).copied()
    }

    /// The committed value and version of `key` in `namespace`.
    pub fn get(&self, namespace: &str, key: &str) -> Option<(Vec<u8>, Version)> {
        self.state
            .get(namespace)
            .and_then(|ns| ns.get(key))
            .map(|e| (e.value.clone(), e.version))
    }

    /// The committed keys of `namespace` in `[start, end)` (`end` empty: no
    /// bound), at most `limit` of them (read no further), with values and versions.
    pub fn range_limited(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Vec<(String, Vec<u8>, Version)> {
        let Some(ns) = self.state.get(namespace) else {
            return Vec::new();
        };
        ns.range(start.to_owned()..)
            .take_while(|(k, _)| end.is_empty() || k.as_str() < end)
            .take(limit)
            .map(|(k, e)| (k.clone(), e.value.clone(), e.version))
            .collect()
    }

    /// The history of `key`, newest first, as Fabric's history database answers.
    pub fn history(&self, namespace: &str, key: &str) -> Vec<KeyModification> {
        self.history
            .get(&(namespace.to_owned(), key.to_owned()))
            .map(|h| h.iter().rev().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether `reads` still hold: each key at the version read (absent if read absent).
    pub fn reads_hold(&self, namespace: &str, reads: &[KvRead]) -> bool {
        reads.iter().all(|read| {
            let committed = self.get(namespace, &read.key).map(|(_, v)| v);
            committed == read.version
        })
    }

    /// Whether a range read still yields exactly `reads` (phantom-read
    /// check). As Fabric's range query validator: an iterator closed before
    /// the end (`exhausted` false) is checked only up to the last key it read.
    pub fn range_holds(
        &self,
        namespace: &str,
        (start, end): (&str, &str),
        reads: &[KvRead],
        exhausted: bool,
    ) -> bool {
        let take = if exhausted {
            reads.len().saturating_add(1)
        } else {
            reads.len()
        };
        let now: Vec<KvRead> = self
            .range_limited(namespace, start, end, take)
            .into_iter()
            .map(|(key, _, v)| KvRead {
                key,
                version: Some(v),
            })
            .collect();
        now == reads
    }

    /// Cuts the next block holding `envelope`, judged `code`; applies the
    /// writes of a valid transaction. Returns the block number.
    pub fn append(
        &mut self,
        envelope: Vec<u8>,
        code: TxValidationCode,
        checked: Option<Checked>,
    ) -> u64 {
        let number = self.height();
        let previous_hash = self
            .blocks
            .last()
            .and_then(|b| b.header.as_ref())
            .map(block_header_hash)
            .unwrap_or_default();
        let data = BlockData {
            data: vec![envelope],
        };
        let header = BlockHeader {
            number,
            previous_hash,
            data_hash: block_data_hash(&data),
        };
        // One entry per metadata index, as protoutil.NewBlock; the committer
        // writes TRANSACTIONS_FILTER, one validation code byte per transaction.
        let mut metadata = vec![Vec::new(); 5];
        metadata[BlockMetadataIndex::TransactionsFilter as usize] = vec![code as u8];
        self.blocks.push(Block {
            header: Some(header),
            data: Some(data),
            metadata: Some(BlockMetadata { metadata }),
        });
        let mut events = Vec::new();
        if let Some(checked) = checked {
            if !checked.tx_id.is_empty() {
                self.index.entry(checked.tx_id.clone()).or_insert(TxStatus {
                    block: number,
                    code,
                });
            }
            if code == TxValidationCode::Valid {
                self.apply(number, &checked);
                events.extend(checked.event);
            }
        }
        self.events.push(events);
        number
    }

    fn apply(&mut self, block: u64, checked: &Checked) {
        for (namespace, writes) in &checked.writes {
            let ns = self.state.entry(namespace.clone()).or_default();
            for write in writes {
                if write.is_delete {
                    ns.remove(&write.key);
                } else {
                    ns.insert(
                        write.key.clone(),
                        Entry {
                            value: write.value.clone(),
                            version: version(block, 0),
                        },
                    );
                }
                self.history
                    .entry((namespace.clone(), write.key.clone()))
                    .or_default()
                    .push(KeyModification {
                        tx_id: checked.tx_id.clone(),
                        value: if write.is_delete {
                            Vec::new()
                        } else {
                            write.value.clone()
                        },
                        timestamp: checked.timestamp,
                        is_delete: write.is_delete,
                    });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn checked(tx: &str, key: &str, value: &[u8]) -> Checked {
        Checked {
            tx_id: tx.into(),
            timestamp: None,
            writes: vec![(
                "cc".into(),
                vec![KvWrite {
                    key: key.into(),
                    is_delete: value.is_empty(),
                    value: value.to_vec(),
                }],
            )],
            event: None,
        }
    }

    #[test]
    fn blocks_chain_and_only_valid_writes_apply() {
        let mut ledger = Ledger::new("ch", Timestamp::default());
        assert_eq!(ledger.height(), 1);
        let n = ledger.append(
            b"e1".to_vec(),
            TxValidationCode::Valid,
            Some(checked("t1", "k", b"v")),
        );
        assert_eq!(n, 1);
        ledger.append(
            b"e2".to_vec(),
            TxValidationCode::MvccReadConflict,
            Some(checked("t2", "k", b"w")),
        );
        assert_eq!(ledger.get("cc", "k").unwrap().0, b"v");
        assert_eq!(ledger.get("cc", "k").unwrap().1, version(1, 0));
        let b2 = ledger.block(2).unwrap();
        let h1 = block_header_hash(ledger.block(1).unwrap().header.as_ref().unwrap());
        assert_eq!(b2.header.as_ref().unwrap().previous_hash, h1);
        assert_eq!(
            b2.metadata.as_ref().unwrap().metadata[2],
            vec![TxValidationCode::MvccReadConflict as u8]
        );
        assert_eq!(
            ledger.status("t2").unwrap().code,
            TxValidationCode::MvccReadConflict
        );
        assert_eq!(ledger.history("cc", "k").len(), 1);
    }

    #[test]
    fn an_iterator_closed_early_is_checked_only_up_to_its_last_read() {
        let mut ledger = Ledger::new("ch", Timestamp::default());
        ledger.append(
            b"e1".to_vec(),
            TxValidationCode::Valid,
            Some(checked("t1", "r/a", b"1")),
        );
        let reads = [KvRead {
            key: "r/a".into(),
            version: Some(version(1, 0)),
        }];
        // A key after the last one read appears: a phantom only for an
        // iterator that had reached the end of its range.
        ledger.append(
            b"e2".to_vec(),
            TxValidationCode::Valid,
            Some(checked("t2", "r/b", b"2")),
        );
        assert!(ledger.range_holds("cc", ("r/", "r0"), &reads, false));
        assert!(!ledger.range_holds("cc", ("r/", "r0"), &reads, true));
        // A key before it is a phantom either way.
        ledger.append(
            b"e3".to_vec(),
            TxValidationCode::Valid,
            Some(checked("t3", "r/0", b"0")),
        );
        assert!(!ledger.range_holds("cc", ("r/", "r0"), &reads, false));
    }

    #[test]
    fn header_hash_matches_fabric_asn1() {
        // DER of SEQUENCE { INTEGER 0, OCTET STRING "", OCTET STRING "" } is 30 07 02 01 00 04 00 04 00.
        let header = BlockHeader::default();
        let der = [0x30, 0x07, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00];
        assert_eq!(block_header_hash(&header), Sha256::digest(der).to_vec());
    }
}
