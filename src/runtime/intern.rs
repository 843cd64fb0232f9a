//! String interning: label values such as org, destination or OS names repeat across
//! thousands of rows and are stored once.

use std::sync::Arc;

#[derive(Default)]
pub(crate) struct Interner(foldhash::HashSet<Arc<str>>);

impl Interner {
    pub(crate) fn get(&mut self, value: &str) -> Arc<str> {
        if let Some(existing) = self.0.get(value) {
            return existing.clone();
        }
        let value: Arc<str> = Arc::from(value);
        self.0.insert(value.clone());
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_text_same_allocation() {
        let mut interner = Interner::default();
        let a = interner.get("Engineering");
        let b = interner.get("Engineering");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &interner.get("Sales")));
    }
}
