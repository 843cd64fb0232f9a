//! How much one refresh may read (`max_pages`, `max_rows`, `max_read_bytes`): a vendor that
//! serves pages without end fails the refresh, and the last good data stays, before the
//! rows it sent take the memory. Rows are what a refresh holds until it ends; bytes bound
//! rows whose values are long.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::config::HttpSpec;
use crate::sources::RefreshError;

/// Shared by the reads of one refresh, which may run side by side.
#[derive(Debug)]
pub(crate) struct ReadBudget {
    max_pages: u32,
    max_rows: u64,
    max_bytes: u64,
    pages: AtomicU32,
    rows: AtomicU64,
    bytes: AtomicU64,
}

impl ReadBudget {
    pub(crate) fn new(http: &HttpSpec) -> ReadBudget {
        ReadBudget {
            max_pages: http.max_pages,
            max_rows: http.max_rows,
            max_bytes: http.max_read_bytes,
            pages: AtomicU32::new(0),
            rows: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// Counts a page of `rows` rows in `bytes` bytes read from `endpoint`; an error past
    /// any limit.
    pub(crate) fn page(
        &self,
        endpoint: &'static str,
        rows: usize,
        bytes: usize,
    ) -> Result<(), RefreshError> {
        let pages = self.pages.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.rows.fetch_add(rows as u64, Ordering::Relaxed) + rows as u64;
        let read = self.bytes.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        let over = |what: &str, limit: u64, key: &str| RefreshError::Paging {
            endpoint,
            detail: format!(
                "more than {limit} {what} in one refresh (the source's {key}); the vendor seems to serve pages without end"
            ),
        };
        if pages > self.max_pages {
            return Err(over("pages", u64::from(self.max_pages), "max_pages"));
        }
        if total > self.max_rows {
            return Err(over("rows", self.max_rows, "max_rows"));
        }
        if read > self.max_bytes {
            return Err(over("bytes of pages", self.max_bytes, "max_read_bytes"));
        }
        Ok(())
    }
}

/// A page that holds rows of which not one can be read is not data: it ends the paging as
/// an error, rather than counting as a page with rows and asking for the next.
pub(crate) fn unreadable_page(endpoint: &'static str, page: u32, rows: usize) -> RefreshError {
    RefreshError::Decode {
        endpoint,
        detail: format!("page {page} holds {rows} rows and not one the exporter can read"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_rows_are_bounded() {
        let spec = HttpSpec {
            max_pages: 3,
            max_rows: 250,
            max_read_bytes: 10_000,
            ..HttpSpec::default()
        };
        let budget = ReadBudget::new(&spec);
        assert!(budget.page("r", 100, 10).is_ok());
        assert!(budget.page("r", 100, 10).is_ok());
        let error = budget.page("r", 100, 10).unwrap_err().to_string();
        assert!(
            error.contains("more than 250 rows in one refresh (the source's max_rows)"),
            "{error}"
        );
        let budget = ReadBudget::new(&spec);
        for _ in 0..3 {
            budget.page("r", 1, 10).unwrap();
        }
        let error = budget.page("r", 1, 10).unwrap_err().to_string();
        assert!(error.contains("more than 3 pages"), "{error}");
        let budget = ReadBudget::new(&spec);
        budget.page("r", 1, 9_000).unwrap();
        let error = budget.page("r", 1, 1_001).unwrap_err().to_string();
        assert!(
            error.contains(
                "more than 10000 bytes of pages in one refresh (the source's max_read_bytes)"
            ),
            "{error}"
        );
    }
}
