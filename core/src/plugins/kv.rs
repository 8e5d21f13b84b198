//! The key-value store plugins see: one namespace per install, capped in
//! key size, value size and total bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const MAX_KEY_BYTES: usize = 256;
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
pub const MAX_NAMESPACE_BYTES: usize = 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum KvError {
    TooLarge,
    QuotaExceeded,
}

/// One install's keys and values.
type Namespace = HashMap<String, Vec<u8>>;

/// In-memory namespaces, shared by every instance of the host.
#[derive(Clone, Default)]
pub struct MemoryKv {
    spaces: Arc<Mutex<HashMap<String, Namespace>>>,
}

impl MemoryKv {
    pub fn get(&self, namespace: &str, key: &str) -> Option<Vec<u8>> {
        let spaces = self.spaces.lock().ok()?;
        spaces.get(namespace)?.get(key).cloned()
    }

    pub fn set(&self, namespace: &str, key: &str, value: Vec<u8>) -> Result<(), KvError> {
        if key.len() > MAX_KEY_BYTES || value.len() > MAX_VALUE_BYTES {
            return Err(KvError::TooLarge);
        }
        let mut spaces = self.spaces.lock().map_err(|_| KvError::QuotaExceeded)?;
        let space = spaces.entry(namespace.to_owned()).or_default();
        let used: usize = space.iter().filter(|(k, _)| *k != key).map(|(k, v)| k.len() + v.len()).sum();
        if used + key.len() + value.len() > MAX_NAMESPACE_BYTES {
            return Err(KvError::QuotaExceeded);
        }
        space.insert(key.to_owned(), value);
        Ok(())
    }

    pub fn delete(&self, namespace: &str, key: &str) {
        if let Ok(mut spaces) = self.spaces.lock()
            && let Some(space) = spaces.get_mut(namespace)
        {
            space.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_separate_and_capped() {
        let kv = MemoryKv::default();
        kv.set("a", "k", b"1".to_vec()).unwrap();
        assert_eq!(kv.get("a", "k"), Some(b"1".to_vec()));
        assert_eq!(kv.get("b", "k"), None);
        assert_eq!(kv.set("a", "big", vec![0; MAX_VALUE_BYTES + 1]), Err(KvError::TooLarge));
        for i in 0..15 {
            kv.set("a", &format!("v{i}"), vec![0; MAX_VALUE_BYTES]).unwrap();
        }
        assert_eq!(kv.set("a", "more", vec![0; MAX_VALUE_BYTES]), Err(KvError::QuotaExceeded));
        kv.delete("a", "k");
        assert_eq!(kv.get("a", "k"), None);
    }
}
