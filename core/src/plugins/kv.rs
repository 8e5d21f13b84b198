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

    pub fn swap(&self, namespace: &str, key: &str, expected: Option<Vec<u8>>, value: Vec<u8>) -> Result<bool, KvError> {
        {
            let spaces = self.spaces.lock().map_err(|_| KvError::QuotaExceeded)?;
            if spaces.get(namespace).and_then(|space| space.get(key)) != expected.as_ref() {
                return Ok(false);
            }
        }
        self.set(namespace, key, value).map(|()| true)
    }

    pub fn delete(&self, namespace: &str, key: &str) {
        if let Ok(mut spaces) = self.spaces.lock()
            && let Some(space) = spaces.get_mut(namespace)
        {
            space.remove(key);
        }
    }
}

/// Where an install's keys live: the database on a server, memory in tools.
#[derive(Clone)]
pub enum Kv {
    Memory(MemoryKv),
    Db(crate::store::Store, uuid::Uuid),
}

/// Why a durable operation failed: a limit, or the database.
#[derive(Debug, PartialEq, Eq)]
pub enum KvFailure {
    Limit(KvError),
    Unavailable,
}

/// A write transaction, if `key` and a value of `len` bytes fit the
/// install's limits.
async fn begin_within_quota(
    store: &crate::store::Store,
    install: uuid::Uuid,
    key: &str,
    len: usize,
) -> Result<crate::store::WriteTx, KvFailure> {
    if key.len() > MAX_KEY_BYTES || len > MAX_VALUE_BYTES {
        return Err(KvFailure::Limit(KvError::TooLarge));
    }
    let tx = store.begin().await.map_err(|_| KvFailure::Unavailable)?;
    let used = crate::store::plugin_kv::used_bytes(&*tx, install, key).await.map_err(|_| KvFailure::Unavailable)?;
    if used as usize + key.len() + len > MAX_NAMESPACE_BYTES {
        return Err(KvFailure::Limit(KvError::QuotaExceeded));
    }
    Ok(tx)
}

impl Kv {
    pub async fn get(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, KvFailure> {
        match self {
            Kv::Memory(kv) => Ok(kv.get(namespace, key)),
            Kv::Db(store, install) => {
                crate::store::plugin_kv::get(&store.db, *install, key).await.map_err(|_| KvFailure::Unavailable)
            }
        }
    }

    pub async fn set(&self, namespace: &str, key: &str, value: Vec<u8>) -> Result<(), KvFailure> {
        match self {
            Kv::Memory(kv) => kv.set(namespace, key, value).map_err(KvFailure::Limit),
            Kv::Db(store, install) => {
                let tx = begin_within_quota(store, *install, key, value.len()).await?;
                let write = async {
                    crate::store::plugin_kv::set(&*tx, *install, key, value).await?;
                    tx.commit().await
                };
                write.await.map_err(|_| KvFailure::Unavailable)
            }
        }
    }

    pub async fn swap(
        &self,
        namespace: &str,
        key: &str,
        expected: Option<Vec<u8>>,
        value: Vec<u8>,
    ) -> Result<bool, KvFailure> {
        match self {
            Kv::Memory(kv) => kv.swap(namespace, key, expected, value).map_err(KvFailure::Limit),
            Kv::Db(store, install) => {
                let tx = begin_within_quota(store, *install, key, value.len()).await?;
                let write = async {
                    let swapped = crate::store::plugin_kv::swap(&*tx, *install, key, expected, value).await?;
                    tx.commit().await?;
                    Ok::<_, crate::store::Error>(swapped)
                };
                write.await.map_err(|_| KvFailure::Unavailable)
            }
        }
    }

    pub async fn delete(&self, namespace: &str, key: &str) -> Result<(), KvFailure> {
        match self {
            Kv::Memory(kv) => {
                kv.delete(namespace, key);
                Ok(())
            }
            Kv::Db(store, install) => {
                let delete = async {
                    let tx = store.begin().await?;
                    crate::store::plugin_kv::delete(&*tx, *install, key).await?;
                    tx.commit().await
                };
                delete.await.map_err(|_| KvFailure::Unavailable)
            }
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
        // A swap takes only when the value is still the one expected.
        assert_eq!(kv.swap("b", "n", None, b"1".to_vec()), Ok(true));
        assert_eq!(kv.swap("b", "n", None, b"2".to_vec()), Ok(false));
        assert_eq!(kv.swap("b", "n", Some(b"0".to_vec()), b"2".to_vec()), Ok(false));
        assert_eq!(kv.swap("b", "n", Some(b"1".to_vec()), b"2".to_vec()), Ok(true));
        assert_eq!(kv.get("b", "n"), Some(b"2".to_vec()));
    }
}
