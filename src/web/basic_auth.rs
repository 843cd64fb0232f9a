//! Basic auth checks that neither tell which users exist nor let guessing clients delay a
//! rightful one. bcrypt is slow by design (tens of milliseconds at cost 10), so:
//! - a password once checked is remembered, right or wrong, as a keyed hash of the user,
//!   the password and the hash it was checked against: Prometheus pays bcrypt once, and a
//!   guess repeated costs nothing;
//! - the checks that remain run on a small pool, taken in turn client by client (and,
//!   within a client, user name by user name), never first come first served: a client's
//!   check waits for at most one check of each other client, however many they send;
//! - a client may have only a few checks waiting per user name; more are refused at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::sync::oneshot;

use crate::server::Client;

/// Checks one client may have waiting for one user name; more are refused.
const MAX_WAITING_PER_USER: usize = 4;
/// Checks one client may have waiting in all (whatever the user names).
const MAX_WAITING_PER_CLIENT: usize = 256;
/// Remembered outcomes of each kind; the memory is cleared when it is full.
const REMEMBERED: usize = 4096;

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    Denied,
    /// The client has too many checks waiting: try again later.
    Busy,
}

/// The basic auth checker of one web configuration watch.
pub(crate) struct BasicAuth {
    /// Outcomes already known, as keyed hashes (never the passwords).
    allowed: Mutex<HashSet<u64>>,
    denied: Mutex<HashSet<u64>>,
    hasher: std::hash::RandomState,
    queue: Arc<FairQueue>,
    /// Checked for unknown users, so they cost what a known user with a wrong password does.
    dummy_hash: String,
}

/// `user:password` from an `Authorization: Basic` header; the scheme name is
/// case-insensitive (RFC 7617).
fn credentials(header: Option<&str>) -> Option<(String, String)> {
    let (scheme, encoded) = header?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

impl BasicAuth {
    /// `cost` is the bcrypt cost of the dummy hash: that of the configured hashes.
    pub(super) fn new(cost: u32) -> Result<BasicAuth, bcrypt::BcryptError> {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .clamp(1, 4);
        Ok(BasicAuth {
            allowed: Mutex::default(),
            denied: Mutex::default(),
            hasher: std::hash::RandomState::new(),
            queue: FairQueue::new(workers),
            dummy_hash: bcrypt::hash("not a password anyone uses", cost)?,
        })
    }

    /// Checks an `Authorization` header sent by `client` against `users` (user → bcrypt hash).
    pub(crate) async fn check(
        &self,
        users: &std::collections::BTreeMap<String, String>,
        header: Option<&str>,
        client: Client,
    ) -> Verdict {
        let Some((user, password)) = credentials(header) else {
            return Verdict::Denied;
        };
        // An unknown user is checked against a dummy hash: answering sooner would tell
        // which users exist.
        let (known, hash) = match users.get(&user) {
            Some(hash) => (true, hash.clone()),
            None => (false, self.dummy_hash.clone()),
        };
        let key = self.hasher.hash_one((&user, &password, &hash));
        if known && self.allowed.lock().expect("auth memory").contains(&key) {
            return Verdict::Allowed;
        }
        if self.denied.lock().expect("auth memory").contains(&key) {
            return Verdict::Denied;
        }
        let Some(turn) = self.queue.wait(client, &user).await else {
            return Verdict::Busy;
        };
        let right =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        drop(turn);
        let (verdict, memory) = if right && known {
            (Verdict::Allowed, &self.allowed)
        } else {
            (Verdict::Denied, &self.denied)
        };
        let mut memory = memory.lock().expect("auth memory");
        if memory.len() >= REMEMBERED {
            memory.clear();
        }
        memory.insert(key);
        verdict
    }
}

/// A pool of `workers` turns, handed out client by client and, within a client, user by
/// user, in rotation.
struct FairQueue {
    workers: usize,
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    busy: usize,
    /// Clients with checks waiting, in the order of their next turn.
    rotation: VecDeque<Client>,
    clients: HashMap<Client, ClientQueue>,
}

#[derive(Default)]
struct ClientQueue {
    /// User names with checks waiting, in the order of their next turn.
    rotation: VecDeque<String>,
    waiting: HashMap<String, VecDeque<oneshot::Sender<Turn>>>,
}

impl ClientQueue {
    fn len(&self) -> usize {
        self.waiting.values().map(VecDeque::len).sum()
    }

    /// Forgets checks whose request went away.
    fn prune(&mut self) {
        self.waiting
            .values_mut()
            .for_each(|w| w.retain(|sender| !sender.is_closed()));
        self.waiting.retain(|_, w| !w.is_empty());
        self.rotation.retain(|user| self.waiting.contains_key(user));
    }

    /// The next waiting check of this client, its user names in rotation.
    fn pop(&mut self) -> Option<oneshot::Sender<Turn>> {
        while let Some(user) = self.rotation.pop_front() {
            let Some(waiting) = self.waiting.get_mut(&user) else {
                continue;
            };
            let next = waiting.pop_front();
            if waiting.is_empty() {
                self.waiting.remove(&user);
            } else {
                self.rotation.push_back(user);
            }
            if next.is_some() {
                return next;
            }
        }
        None
    }
}

/// The right to run one check; handed to the next waiting check when dropped.
struct Turn(Option<Arc<FairQueue>>);

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(queue) = self.0.take() {
            queue.hand_over();
        }
    }
}

impl QueueState {
    /// The next waiting check, clients in rotation, or `None` when nothing waits.
    fn next(&mut self) -> Option<oneshot::Sender<Turn>> {
        while let Some(client) = self.rotation.pop_front() {
            let Some(queue) = self.clients.get_mut(&client) else {
                continue;
            };
            let next = queue.pop();
            if queue.waiting.is_empty() {
                self.clients.remove(&client);
            } else {
                self.rotation.push_back(client);
            }
            if next.is_some() {
                return next;
            }
        }
        None
    }
}

impl FairQueue {
    fn new(workers: usize) -> Arc<FairQueue> {
        Arc::new(FairQueue {
            workers,
            state: Mutex::default(),
        })
    }

    /// Waits for a turn for `client`'s check of `user`; `None` if the client already has
    /// too many checks waiting.
    async fn wait(self: &Arc<Self>, client: Client, user: &str) -> Option<Turn> {
        let receiver = {
            let mut guard = self.state.lock().expect("auth queue");
            let state = &mut *guard;
            if state.busy < self.workers && state.rotation.is_empty() {
                state.busy += 1;
                return Some(Turn(Some(self.clone())));
            }
            let queue = state.clients.entry(client).or_default();
            queue.prune();
            let for_user = queue.waiting.get(user).map_or(0, VecDeque::len);
            if for_user >= MAX_WAITING_PER_USER || queue.len() >= MAX_WAITING_PER_CLIENT {
                if queue.waiting.is_empty() {
                    state.clients.remove(&client);
                }
                return None;
            }
            let (sender, receiver) = oneshot::channel();
            if for_user == 0 {
                queue.rotation.push_back(user.to_string());
            }
            queue
                .waiting
                .entry(user.to_string())
                .or_default()
                .push_back(sender);
            if !state.rotation.contains(&client) {
                state.rotation.push_back(client);
            }
            receiver
        };
        receiver.await.ok()
    }

    /// A check finished: its turn goes to the next waiting check, if any.
    fn hand_over(self: &Arc<Self>) {
        loop {
            let next = {
                let mut state = self.state.lock().expect("auth queue");
                match state.next() {
                    Some(next) => next,
                    None => {
                        state.busy -= 1;
                        return;
                    }
                }
            };
            // A waiting check whose request went away gives its turn straight on.
            match next.send(Turn(Some(self.clone()))) {
                Ok(()) => return,
                Err(mut turn) => turn.0 = None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::time::Duration;

    fn client(last: u8) -> Client {
        Client::of(IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn only_well_formed_basic_credentials_are_read() {
        let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let header = format!("bAsIc {}", encode("prometheus:pa:ss"));
        assert_eq!(
            credentials(Some(&header)),
            Some(("prometheus".into(), "pa:ss".into()))
        );
        for bad in [
            "Bearer abc".to_string(),
            "Basic !!!".into(),
            format!("Basic {}", encode("no-colon")),
            "Basic".into(),
        ] {
            assert_eq!(credentials(Some(&bad)), None, "{bad}");
        }
        assert_eq!(credentials(None), None);
    }

    /// With one worker busy, a new client's check goes before the ten a busy client queued
    /// first; a client gets at most four waiting checks per user name.
    #[tokio::test]
    async fn turns_go_client_by_client_not_first_come_first_served() {
        let queue = FairQueue::new(1);
        let running = queue.wait(client(1), "x").await.expect("a free worker");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        let mut refused = 0;
        for (who, user) in (0..10)
            .map(|i| (1, format!("guess{}", i % 3)))
            .chain([(2, "prometheus".to_string())])
        {
            let (queue, order) = (queue.clone(), order.clone());
            let (tx, rx) = oneshot::channel();
            tasks.push(tokio::spawn(async move {
                let turn = queue.wait(client(who), &user).await;
                let _ = tx.send(());
                if let Some(turn) = turn {
                    order.lock().unwrap().push(who);
                    drop(turn);
                    true
                } else {
                    false
                }
            }));
            // Each is queued (or refused) before the next asks.
            tokio::time::timeout(Duration::from_millis(50), rx)
                .await
                .ok();
        }
        drop(running);
        for task in tasks {
            if !task.await.unwrap() {
                refused += 1;
            }
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(refused, 0, "three user names, at most four each");
        assert_eq!(order.len(), 11);
        assert_eq!(
            order.iter().position(|who| *who == 2),
            Some(1),
            "the second client waits for one check of the first, not ten: {order:?}"
        );

        let queue = FairQueue::new(1);
        let _running = queue.wait(client(1), "x").await.unwrap();
        let mut waiting = Vec::new();
        for _ in 0..MAX_WAITING_PER_USER {
            let queue = queue.clone();
            waiting.push(tokio::spawn(async move {
                queue.wait(client(3), "root").await.is_some()
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            queue.wait(client(3), "root").await.is_none(),
            "a fifth waiting check of one user name is refused"
        );
        // A check whose request went away frees its place.
        waiting.pop().unwrap().abort();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let queue2 = queue.clone();
        let again = tokio::spawn(async move { queue2.wait(client(3), "root").await.is_some() });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!again.is_finished(), "queued, not refused");
        again.abort();
    }

    #[tokio::test]
    async fn outcomes_are_remembered_right_and_wrong() {
        let auth = BasicAuth::new(4).unwrap();
        let users = [("prometheus".to_string(), bcrypt::hash("right", 4).unwrap())].into();
        let header = |user: &str, password: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        };
        let from = client(9);
        for _ in 0..2 {
            let right = header("prometheus", "right");
            assert_eq!(
                auth.check(&users, Some(&right), from).await,
                Verdict::Allowed
            );
            let wrong = header("prometheus", "wrong");
            assert_eq!(
                auth.check(&users, Some(&wrong), from).await,
                Verdict::Denied
            );
            let unknown = header("nobody", "right");
            assert_eq!(
                auth.check(&users, Some(&unknown), from).await,
                Verdict::Denied
            );
        }
        assert_eq!(auth.allowed.lock().unwrap().len(), 1);
        assert_eq!(auth.denied.lock().unwrap().len(), 2);
        // The remembered outcome is bound to the hash: a new password is checked anew.
        let rotated = [("prometheus".to_string(), bcrypt::hash("new", 4).unwrap())].into();
        let right = header("prometheus", "right");
        assert_eq!(
            auth.check(&rotated, Some(&right), from).await,
            Verdict::Denied
        );
    }
}
