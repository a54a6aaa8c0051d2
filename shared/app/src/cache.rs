//! What a function instance read recently, kept for a while: a warm instance answers from memory
//! what changes rarely (API key records, a tenant's live programs). Bounded: when full it starts
//! over, so a flood of distinct keys costs reads, never memory.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Recent<V> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> Recent<V> {
    /// Values are served for `ttl` after they were put (`Duration::ZERO`: never).
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Recent {
            ttl,
            max_entries,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value put under `key` less than `ttl` ago.
    pub fn get(&self, key: &str) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (at, value) = entries.get(key)?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    pub fn put(&self, key: String, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_served_while_fresh_and_memory_stays_bounded() {
        let recent = Recent::new(Duration::from_secs(60), 2);
        assert_eq!(recent.get("a"), None);
        recent.put("a".into(), 1);
        recent.put("b".into(), 2);
        assert_eq!((recent.get("a"), recent.get("b")), (Some(1), Some(2)));
        recent.put("c".into(), 3);
        assert_eq!(
            (recent.get("a"), recent.get("c")),
            (None, Some(3)),
            "full: started over"
        );
        let never = Recent::new(Duration::ZERO, 10);
        never.put("a".into(), 1);
        assert_eq!(never.get("a"), None);
    }
}
