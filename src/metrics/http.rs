//! The scrape endpoint: a deliberately small HTTP/1.1 responder on our own
//! tokio runtime. It answers `GET /metrics` (and `HEAD`) with the registry in
//! the Prometheus text format, or in OpenMetrics when the `Accept` header asks
//! for `application/openmetrics-text` (as Prometheus itself does), and closes
//! the connection after each answer.
//!
//! It is not a general web server and need not be one: a scrape is one small
//! request. So it reads at most [`MAX_HEAD`] bytes of request head within
//! [`HEAD_TIMEOUT`], serves at most [`MAX_CONNECTIONS`] connections at once
//! (more are closed unanswered) and ignores request bodies. A malformed
//! request gets a 400, another path a 404, another method a 405; none can make
//! it allocate without bound or wait forever.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::MetricsRegistry;

/// Largest request head read; a longer one gets a 431.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 16;

/// The two text expositions Prometheus reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format, version 0.0.4 (the default).
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format an `Accept` header asks for: OpenMetrics when it lists
    /// `application/openmetrics-text` (with a non-zero quality), otherwise
    /// the Prometheus text format.
    pub fn from_accept(accept: &str) -> Format {
        let wants_openmetrics = accept.split(',').any(|part| {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or_default();
            media.eq_ignore_ascii_case("application/openmetrics-text")
                && !params.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f64>().ok())
                        .is_some_and(|q| q <= 0.0)
                })
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Why the metrics endpoint could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum MetricsError {
    /// The listening socket could not be bound.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl std::fmt::Display for MetricsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsError::Bind { addr, source } => {
                write!(f, "cannot serve metrics on {addr}: {source}")
            }
        }
    }
}

impl std::error::Error for MetricsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MetricsError::Bind { source, .. } => Some(source),
        }
    }
}

/// Bind the endpoint's listening socket (port 0: any free port, see
/// [`TcpListener::local_addr`]).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, MetricsError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })
}

/// Answer scrapes on `listener` for ever (abort the task to stop it).
pub async fn serve(listener: TcpListener, registry: Arc<MetricsRegistry>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(target: "caproto::metrics", "metrics accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::debug!(target: "caproto::metrics", their_addr = %peer,
                "metrics: too many connections, closing one");
            continue;
        };
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            if let Err(e) = answer(stream, &registry).await {
                tracing::debug!(target: "caproto::metrics", their_addr = %peer,
                    "metrics request failed: {e}");
            }
            drop(permit);
        });
    }
}

async fn answer(mut stream: TcpStream, registry: &MetricsRegistry) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let complete = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut stream, &mut head)).await;
    let reply = match complete {
        Err(_) => return Ok(()), // too slow: close without a word
        Ok(Err(e)) => return Err(e),
        Ok(Ok(false)) if head.len() >= MAX_HEAD => {
            status_only(431, "Request Header Fields Too Large")
        }
        Ok(Ok(false)) => return Ok(()), // closed before the end of the head
        Ok(Ok(true)) => respond(&head, registry),
    };
    stream.write_all(&reply).await?;
    stream.shutdown().await
}

/// Read until the blank line that ends a request head; `false` when the
/// peer closed first or the head reached [`MAX_HEAD`].
async fn read_head(stream: &mut TcpStream, head: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 1024];
    loop {
        if head_end(head).is_some() {
            return Ok(true);
        }
        if head.len() >= MAX_HEAD {
            return Ok(false);
        }
        let room = (MAX_HEAD - head.len()).min(chunk.len());
        let n = stream.read(&mut chunk[..room]).await?;
        if n == 0 {
            return Ok(false);
        }
        head.extend_from_slice(&chunk[..n]);
    }
}

fn head_end(head: &[u8]) -> Option<usize> {
    head.windows(4).position(|w| w == b"\r\n\r\n")
}

/// The whole HTTP answer to one request head.
pub(crate) fn respond(head: &[u8], registry: &MetricsRegistry) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(head) else {
        return status_only(400, "Bad Request");
    };
    let mut lines = text.split("\r\n");
    let mut request = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version)) =
        (request.next(), request.next(), request.next())
    else {
        return status_only(400, "Bad Request");
    };
    if !version.starts_with("HTTP/1.") {
        return status_only(400, "Bad Request");
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => {
            return reply(
                405,
                "Method Not Allowed",
                "text/plain; charset=utf-8",
                "Allow: GET, HEAD\r\n",
                b"only GET and HEAD\n",
                false,
            )
        }
    };
    let path = target.split('?').next().unwrap_or_default();
    if path != "/metrics" {
        let body: &[u8] = if path == "/" {
            b"caproto metrics: see /metrics\n"
        } else {
            b"not found: try /metrics\n"
        };
        let (code, why) = if path == "/" {
            (200, "OK")
        } else {
            (404, "Not Found")
        };
        return reply(code, why, "text/plain; charset=utf-8", "", body, head_only);
    }
    let accept = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("accept"))
        .map(|(_, value)| value.trim())
        .collect::<Vec<_>>()
        .join(",");
    let format = Format::from_accept(&accept);
    let body = registry.encode(format);
    reply(
        200,
        "OK",
        format.content_type(),
        "",
        body.as_bytes(),
        head_only,
    )
}

fn status_only(code: u16, why: &str) -> Vec<u8> {
    let body = format!("{why}\n");
    reply(
        code,
        why,
        "text/plain; charset=utf-8",
        "",
        body.as_bytes(),
        false,
    )
}

fn reply(
    code: u16,
    why: &str,
    content_type: &str,
    extra: &str,
    body: &[u8],
    head_only: bool,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {code} {why}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    fn registry() -> MetricsRegistry {
        let mut r = MetricsRegistry::new();
        let c: Counter = Counter::default();
        c.inc_by(3);
        r.registry_mut()
            .register("caproto_test", "A test counter", c);
        r
    }

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn accept_header_picks_the_format() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                    version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(prom), Format::OpenMetrics);
        assert_eq!(Format::from_accept("text/plain"), Format::Prometheus);
        assert_eq!(Format::from_accept(""), Format::Prometheus);
        assert_eq!(
            Format::from_accept("application/openmetrics-text; q=0"),
            Format::Prometheus
        );
    }

    #[test]
    fn get_metrics_in_both_formats() {
        let r = registry();
        let plain = text(respond(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r));
        assert!(plain.starts_with("HTTP/1.1 200 OK\r\n"), "{plain}");
        assert!(
            plain.contains("Content-Type: text/plain; version=0.0.4"),
            "{plain}"
        );
        assert!(
            plain.contains("\r\n\r\n# HELP caproto_test_total A test counter"),
            "{plain}"
        );
        assert!(plain.contains("caproto_test_total 3\n"), "{plain}");
        assert!(!plain.contains("# EOF"), "{plain}");
        let om = text(respond(
            b"GET /metrics?x=1 HTTP/1.1\r\naccept: application/openmetrics-text\r\n\r\n",
            &r,
        ));
        assert!(
            om.contains("Content-Type: application/openmetrics-text"),
            "{om}"
        );
        assert!(om.ends_with("# EOF\n"), "{om}");
        let head = text(respond(b"HEAD /metrics HTTP/1.0\r\n\r\n", &r));
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        assert!(head.contains("Content-Length: "), "{head}");
    }

    #[test]
    fn bad_requests_get_an_error_status() {
        let r = registry();
        for (req, status) in [
            (&b"POST /metrics HTTP/1.1\r\n\r\n"[..], "405"),
            (b"GET /other HTTP/1.1\r\n\r\n", "404"),
            (b"GET /metrics\r\n\r\n", "400"),
            (b"GET /metrics SPDY/3\r\n\r\n", "400"),
            (b"\xff\xfe\r\n\r\n", "400"),
        ] {
            let got = text(respond(req, &r));
            assert!(
                got.starts_with(&format!("HTTP/1.1 {status} ")),
                "{req:?}: {got}"
            );
        }
    }

    #[tokio::test]
    async fn serves_over_tcp_and_refuses_an_endless_head() {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(serve(listener, Arc::new(registry())));
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await.unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).await.unwrap();
        assert!(got.contains("caproto_test_total 3"), "{got}");

        let mut s = TcpStream::connect(addr).await.unwrap();
        let junk = vec![b'a'; MAX_HEAD + 100];
        // The server stops reading at MAX_HEAD; the rest may not be taken.
        let _ = s.write_all(&junk).await;
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got).await;
        assert!(text(got).starts_with("HTTP/1.1 431 "));
        task.abort();
    }
}
