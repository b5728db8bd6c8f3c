//! A local HTTP/2 server (cleartext, prior knowledge) standing in for APNs,
//! FCM and Google's token endpoint, which cannot be reached from here. It
//! speaks only HTTP/2 (the `h2` crate's server), records every request and
//! answers from a per-path script.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub version: http::Version,
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at_ms: i64,
}

impl Seen {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// An answer: status, headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

/// The server: its base URL, what it saw, and scripted answers per path
/// (each request takes the next; with none left, `default` answers).
#[derive(Clone)]
pub struct Fake {
    pub base: String,
    pub log: Arc<Mutex<Vec<Seen>>>,
    pub script: Arc<Mutex<HashMap<String, VecDeque<Answer>>>>,
}

impl Fake {
    /// Starts a server whose unscripted answers come from `default`.
    pub async fn start(default: fn(&Seen) -> Answer) -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = Fake {
            base: format!("http://{}", listener.local_addr().unwrap()),
            log: Arc::default(),
            script: Arc::default(),
        };
        let server = fake.clone();
        actix_web::rt::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let server = server.clone();
                actix_web::rt::spawn(async move {
                    let Ok(mut conn) = h2::server::handshake(socket).await else {
                        return;
                    };
                    while let Some(Ok((req, respond))) = conn.accept().await {
                        let server = server.clone();
                        actix_web::rt::spawn(server.answer(req, respond, default));
                    }
                });
            }
        });
        fake
    }

    async fn answer(
        self,
        req: http::Request<h2::RecvStream>,
        mut respond: h2::server::SendResponse<Bytes>,
        default: fn(&Seen) -> Answer,
    ) {
        let (parts, mut body) = req.into_parts();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
            bytes.extend_from_slice(&chunk);
        }
        let seen = Seen {
            version: parts.version,
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: bytes,
            at_ms: carechain_api::db::now_ms(),
        };
        let scripted = self
            .script
            .lock()
            .unwrap()
            .get_mut(&seen.path)
            .and_then(VecDeque::pop_front);
        let (status, headers, text) = scripted.unwrap_or_else(|| default(&seen));
        self.log.lock().unwrap().push(seen);
        let mut res = http::Response::builder().status(status);
        for (name, value) in headers {
            res = res.header(name, value);
        }
        let mut send = respond.send_response(res.body(()).unwrap(), false).unwrap();
        let _ = send.send_data(Bytes::from(text), true);
    }

    /// Scripts the next answers to `path`.
    pub fn script(&self, path: &str, answers: Vec<Answer>) {
        self.script
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .extend(answers);
    }

    /// What was seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `n` requests were seen.
    pub async fn wait_for(&self, n: usize) -> Vec<Seen> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.log.lock().unwrap().len() < n && std::time::Instant::now() < deadline {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        self.seen()
    }
}
