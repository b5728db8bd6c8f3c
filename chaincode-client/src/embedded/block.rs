//! Blocks: their types, the canonical byte encoding, and the hash scheme.
//!
//! Encoding (big-endian, length-prefixed, no optional fields left implicit):
//! integers as fixed width, byte strings and UTF-8 strings as `u32` length +
//! bytes, lists as `u32` count + items, options as a `0`/`1` tag. The same
//! bytes are stored as the block body and hashed, so a decoder that accepts a
//! body accepts exactly what was hashed.
//!
//! Hashes (SHA-256, each domain-separated):
//! - transaction: `H("carechain-ledger/tx/v2" ‖ encode(tx))`;
//! - data hash: `H("carechain-ledger/data/v1" ‖ tx_hash_0 ‖ … ‖ tx_hash_n)`;
//! - block hash: `H("carechain-ledger/block/v1" ‖ number ‖ previous_hash ‖
//!   data_hash ‖ timestamp)`; block 0 (genesis) has an all-zero previous hash;
//! - transaction id: hex of `H("carechain-ledger/txid/v2" ‖ genesis_hash ‖
//!   block ‖ seq ‖ function ‖ args)`, unique per ledger and recomputable.
//!
//! `seq` is the submission's position in the batch the block was cut from,
//! refused submissions included, and is stored in the transaction. Ids are
//! assigned before any transaction of the batch runs (the contract sees its
//! id, so transactions executing in parallel need theirs up front); deriving
//! them from the position among *committed* transactions would let a refusal
//! shift the ids of the transactions after it. `verify` recomputes each id
//! from the stored `seq` and checks that `seq` strictly increases in a block.

use carechain_chaincode::Timestamp;
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// A block: header and the transactions committed in it, in execution order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The header that is hash-chained.
    pub header: BlockHeader,
    /// The committed transactions (refused ones are never in a block).
    pub transactions: Vec<Transaction>,
}

/// What a block's hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// The block number, from 0 (genesis).
    pub number: u64,
    /// The previous block's hash (all zero for genesis).
    pub previous_hash: Hash,
    /// The hash over this block's transaction hashes.
    pub data_hash: Hash,
    /// When the ledger cut the block.
    pub timestamp: Timestamp,
}

/// One committed transaction, with everything needed to replay and check it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// The id the ledger assigned (see the module docs).
    pub tx_id: String,
    /// The submission's position in its batch, refused ones counted; seeds the id.
    pub seq: u32,
    /// The timestamp the ledger assigned; the contract saw it as `tx_timestamp`.
    pub timestamp: Timestamp,
    /// The contract function.
    pub function: String,
    /// The function's arguments.
    pub args: Vec<Vec<u8>>,
    /// The result status (200: committed).
    pub status: u16,
    /// The contract's result payload.
    pub payload: Vec<u8>,
    /// The write set, in key order.
    pub writes: Vec<Write>,
    /// The event the transaction emitted: name and payload.
    pub event: Option<(String, Vec<u8>)>,
}

/// One write of a transaction's write set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The state key.
    pub key: String,
    /// The new value, or `None` for a delete.
    pub value: Option<Vec<u8>>,
}

impl BlockHeader {
    /// This header's hash, which the next block's `previous_hash` must equal.
    pub fn hash(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(b"carechain-ledger/block/v1");
        h.update(self.number.to_be_bytes());
        h.update(self.previous_hash);
        h.update(self.data_hash);
        h.update(self.timestamp.seconds.to_be_bytes());
        h.update(self.timestamp.nanos.to_be_bytes());
        h.finalize().into()
    }
}

impl Transaction {
    /// This transaction's hash (covers every field).
    pub fn hash(&self) -> Hash {
        let mut enc = Encoder::default();
        enc.tx(self);
        let mut h = Sha256::new();
        h.update(b"carechain-ledger/tx/v2");
        h.update(&enc.0);
        h.finalize().into()
    }
}

/// The data hash over `transactions`, in order.
pub fn data_hash(transactions: &[Transaction]) -> Hash {
    let mut h = Sha256::new();
    h.update(b"carechain-ledger/data/v1");
    for tx in transactions {
        h.update(tx.hash());
    }
    h.finalize().into()
}

/// The deterministic id of the submission at position `seq` of block `block`'s batch.
pub fn tx_id(genesis: &Hash, block: u64, seq: u32, function: &str, args: &[Vec<u8>]) -> String {
    let mut enc = Encoder::default();
    enc.bytes(genesis);
    enc.u64(block);
    enc.u32(seq);
    enc.str(function);
    enc.list(args, |e, a| e.bytes(a));
    let mut h = Sha256::new();
    h.update(b"carechain-ledger/txid/v2");
    h.update(&enc.0);
    hex::encode(h.finalize())
}

/// The stored body of a block: its encoded transactions.
pub fn encode_body(transactions: &[Transaction]) -> Vec<u8> {
    let mut enc = Encoder::default();
    enc.list(transactions, Encoder::tx);
    enc.0
}

/// Decodes a stored body; fails on any malformation or trailing byte.
pub fn decode_body(bytes: &[u8]) -> Result<Vec<Transaction>, String> {
    let mut dec = Decoder { bytes, at: 0 };
    let txs = dec.list(Decoder::tx)?;
    if dec.at != bytes.len() {
        return Err(format!(
            "expected the body to end after {} bytes, found {} more",
            dec.at,
            bytes.len() - dec.at
        ));
    }
    Ok(txs)
}

#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn len(&mut self, n: usize) {
        // Lengths above u32::MAX cannot be produced by SQLite (1 GB blob limit).
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
    fn bytes(&mut self, b: &[u8]) {
        self.len(b.len());
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn timestamp(&mut self, t: Timestamp) {
        self.0.extend_from_slice(&t.seconds.to_be_bytes());
        self.0.extend_from_slice(&t.nanos.to_be_bytes());
    }
    fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        self.len(items.len());
        for item in items {
            f(self, item);
        }
    }
    fn option<T>(&mut self, item: Option<&T>, f: impl FnOnce(&mut Self, &T)) {
        match item {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                f(self, v);
            }
        }
    }
    fn tx(&mut self, tx: &Transaction) {
        self.str(&tx.tx_id);
        self.u32(tx.seq);
        self.timestamp(tx.timestamp);
        self.str(&tx.function);
        self.list(&tx.args, |e, a| e.bytes(a));
        self.u16(tx.status);
        self.bytes(&tx.payload);
        self.list(&tx.writes, |e, w| {
            e.str(&w.key);
            e.option(w.value.as_ref(), |e, v| e.bytes(v));
        });
        self.option(tx.event.as_ref(), |e, (name, payload)| {
            e.str(name);
            e.bytes(payload);
        });
    }
}

struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!(
                "expected {n} more bytes at offset {}, found {}",
                self.at,
                self.bytes.len() - self.at
            ));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn str(&mut self) -> Result<String, String> {
        let at = self.at;
        String::from_utf8(self.bytes()?)
            .map_err(|_| format!("expected a UTF-8 string at offset {at}, found invalid bytes"))
    }
    fn timestamp(&mut self) -> Result<Timestamp, String> {
        Ok(Timestamp {
            seconds: i64::from_be_bytes(self.array()?),
            nanos: i32::from_be_bytes(self.array()?),
        })
    }
    fn list<T>(
        &mut self,
        mut f: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let n = self.u32()? as usize;
        // Every item takes at least one byte: cap the allocation by what is left.
        let mut out = Vec::with_capacity(n.min(self.bytes.len() - self.at));
        for _ in 0..n {
            out.push(f(self)?);
        }
        Ok(out)
    }
    fn option<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        let at = self.at;
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(f(self)?)),
            tag => Err(format!(
                "expected option tag 0 or 1 at offset {at}, found {tag}"
            )),
        }
    }
    fn tx(&mut self) -> Result<Transaction, String> {
        Ok(Transaction {
            tx_id: self.str()?,
            seq: self.u32()?,
            timestamp: self.timestamp()?,
            function: self.str()?,
            args: self.list(Self::bytes)?,
            status: u16::from_be_bytes(self.array()?),
            payload: self.bytes()?,
            writes: self.list(|d| {
                Ok(Write {
                    key: d.str()?,
                    value: d.option(Self::bytes)?,
                })
            })?,
            event: self.option(|d| Ok((d.str()?, d.bytes()?)))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Transaction {
        Transaction {
            tx_id: "ab".into(),
            seq: 3,
            timestamp: Timestamp {
                seconds: 5,
                nanos: 7,
            },
            function: "put".into(),
            args: vec![b"k".to_vec(), vec![]],
            status: 200,
            payload: b"ok".to_vec(),
            writes: vec![
                Write {
                    key: "a".into(),
                    value: Some(b"1".to_vec()),
                },
                Write {
                    key: "b".into(),
                    value: None,
                },
            ],
            event: Some(("E".into(), b"p".to_vec())),
        }
    }

    #[test]
    fn body_round_trips_and_rejects_trailing_bytes() {
        let txs = vec![
            sample(),
            Transaction {
                event: None,
                ..sample()
            },
        ];
        let body = encode_body(&txs);
        assert_eq!(decode_body(&body).unwrap(), txs);
        let mut longer = body.clone();
        longer.push(0);
        assert!(decode_body(&longer).is_err());
        assert!(decode_body(&body[..body.len() - 1]).is_err());
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = sample().hash();
        let mut t = sample();
        t.writes[1].value = Some(vec![]);
        assert_ne!(t.hash(), base);
        let mut t = sample();
        t.timestamp.nanos += 1;
        assert_ne!(t.hash(), base);
        let mut t = sample();
        t.event = None;
        assert_ne!(t.hash(), base);
        let mut t = sample();
        t.seq += 1;
        assert_ne!(t.hash(), base);
    }
}
