//! Interning: label values such as org, destination or OS names, and the combinations a
//! device runs, repeat across thousands of rows and are stored once.

use std::borrow::Borrow;
use std::hash::Hash;
use std::sync::Arc;

pub(crate) struct Interner<T: ?Sized = str>(foldhash::HashSet<Arc<T>>);

impl<T: ?Sized> Default for Interner<T> {
    fn default() -> Self {
        Interner(foldhash::HashSet::default())
    }
}

impl<T: ?Sized + Hash + Eq> Interner<T> {
    /// The stored copy of `value`, stored on first sight.
    pub(crate) fn get<Q: Borrow<T>>(&mut self, value: Q) -> Arc<T>
    where
        Arc<T>: From<Q>,
    {
        if let Some(existing) = self.0.get(value.borrow()) {
            return existing.clone();
        }
        let value = Arc::from(value);
        self.0.insert(value.clone());
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_allocation() {
        let mut interner = Interner::<str>::default();
        let a = interner.get("Engineering");
        let b = interner.get("Engineering");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &interner.get("Sales")));
    }

    #[test]
    fn same_value_same_allocation() {
        let mut interner = Interner::<(u8, String)>::default();
        let a = interner.get((1, "x".to_string()));
        assert!(Arc::ptr_eq(&a, &interner.get((1, "x".to_string()))));
        assert!(!Arc::ptr_eq(&a, &interner.get((2, "x".to_string()))));
    }
}
