//! The HTTP server the exporter's web layer and the simulator both run on: the accept loop
//! (plain or TLS, HTTP/1 and HTTP/2, graceful shutdown, streaming bodies) and the limits on
//! the connections it keeps. It knows nothing of what is served, so the simulator can use
//! it without importing the web layer.

pub(crate) mod connection;
mod listener;

pub(crate) use connection::{Client, ConnectionLimits};
pub(crate) use listener::{BindError, HttpBody, TlsSource, bind, channel_body, serve_http};
