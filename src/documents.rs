//! Parsed GraphQL documents, kept by query text.
//!
//! async-graphql parses every request's query with a pest grammar; under load that was
//! about 15% of the server's CPU on `{ __typename }` and a few percent on a page of
//! bookings (measured with `perf`, issue 9). Clients send the same few documents again
//! and again (with different variables), so the edge keeps the parsed
//! [`ExecutableDocument`] of recent queries in a bounded LRU map and hands the executor
//! a copy (`Request::set_parsed_query`). A copy of the syntax tree is far cheaper than
//! a parse; validation and execution are unchanged, and a query that does not parse is
//! never kept (the executor reports its syntax error as before).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

/// Documents kept at most.
pub const CAPACITY: usize = 256;
/// Longest query text kept, bytes: bounds the cache's memory (a parsed document is a
/// small multiple of its text) to a few MB whatever clients send.
pub const MAX_QUERY_BYTES: usize = 4 * 1024;

/// A bounded map from query text to its parsed document.
pub struct DocumentCache {
    map: Mutex<LruCache<String, Arc<ExecutableDocument>>>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self {
            map: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }
}

impl DocumentCache {
    /// Gives `req` the parsed document of its query: a copy of the kept one, or (first
    /// time) the parse, which is then kept if the query is at most
    /// [`MAX_QUERY_BYTES`] long. A query that does not parse is left to the executor.
    pub fn prepare(&self, req: &mut async_graphql::Request) {
        if req.query.len() > MAX_QUERY_BYTES {
            return;
        }
        let kept = self
            .map
            .lock()
            .ok()
            .and_then(|mut m| m.get(&req.query).cloned());
        if let Some(doc) = kept {
            req.set_parsed_query((*doc).clone());
            return;
        }
        let Ok(doc) = req.parsed_query() else {
            return;
        };
        let doc = Arc::new(doc.clone());
        if let Ok(mut m) = self.map.lock() {
            m.put(req.query.clone(), doc);
        }
    }

    /// Documents currently kept.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_document_is_the_same_parse_and_bad_or_huge_queries_are_not_kept() {
        let cache = DocumentCache::default();
        let q = "query Page($n: Int) { bookings(first: $n) { edges { node { id } } } }";
        let mut first = async_graphql::Request::new(q);
        cache.prepare(&mut first);
        assert_eq!(cache.len(), 1);
        let mut second = async_graphql::Request::new(q);
        cache.prepare(&mut second);
        assert_eq!(cache.len(), 1);
        let fresh = async_graphql::parser::parse_query(q).unwrap();
        assert_eq!(
            format!("{:?}", second.parsed_query().unwrap()),
            format!("{fresh:?}")
        );
        let mut bad = async_graphql::Request::new("{ bookings(");
        cache.prepare(&mut bad);
        let big = format!("{{ {} }}", "__typename ".repeat(MAX_QUERY_BYTES / 10));
        let mut huge = async_graphql::Request::new(big);
        cache.prepare(&mut huge);
        assert_eq!(
            cache.len(),
            1,
            "neither a syntax error nor a huge query is kept"
        );
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = DocumentCache::default();
        for i in 0..CAPACITY + 50 {
            let mut r = async_graphql::Request::new(format!("query Q{i} {{ __typename }}"));
            cache.prepare(&mut r);
        }
        assert_eq!(cache.len(), CAPACITY);
    }
}
