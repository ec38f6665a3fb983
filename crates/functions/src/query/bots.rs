//! Spotting bots in a query log by their inhuman rate, so that a query function can count people's repeated
//! searches in full instead of capping everyone.
//!
//! A per-user daily cap (`user_query_cap`) stops a bot, but it also throws away the strongest signal of real
//! logs: people search again for what they searched before. An identity is a bot when, within one clock hour,
//! it searched more than [`MAX_SEARCHES_PER_HOUR`] times (more than one search every 30 s for a whole hour), or
//! searched one query more than [`MAX_REPEATS_PER_HOUR`] times. People who search a lot in bursts stay well
//! below both. The anonymous identity (searches with neither `user_id` nor `imei`) is many people and is never
//! called a bot.

use std::collections::{HashMap, HashSet};

use super::log::QueryLog;

/// Searches of one identity within one clock hour above which it is a bot.
pub const MAX_SEARCHES_PER_HOUR: u32 = 120;
/// Searches of one query by one identity within one clock hour above which it is a bot.
pub const MAX_REPEATS_PER_HOUR: u32 = 30;

const HOUR_MS: i64 = 3_600_000;

/// The identities of a log that search like bots.
#[derive(Clone, Debug, Default)]
pub struct Bots {
    identities: HashSet<u32>,
}

impl Bots {
    /// Looks at every search of `log`.
    pub fn spot(log: &QueryLog) -> Bots {
        let mut per_hour: HashMap<(u32, i64), u32> = HashMap::new();
        let mut per_query_hour: HashMap<(u32, u32, i64), u32> = HashMap::new();
        let mut identities = HashSet::new();
        for s in &log.searches {
            if s.identity == 0 || identities.contains(&s.identity) {
                continue;
            }
            let hour = s.at_ms.div_euclid(HOUR_MS);
            let all = per_hour.entry((s.identity, hour)).or_default();
            *all += 1;
            let one = per_query_hour
                .entry((s.identity, s.query, hour))
                .or_default();
            *one += 1;
            if *all > MAX_SEARCHES_PER_HOUR || *one > MAX_REPEATS_PER_HOUR {
                identities.insert(s.identity);
            }
        }
        Bots { identities }
    }

    pub fn contains(&self, identity: u32) -> bool {
        self.identities.contains(&identity)
    }

    /// Number of identities spotted.
    pub fn len(&self) -> usize {
        self.identities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.identities.is_empty()
    }

    /// `searches` without those of bots.
    pub fn remove_from(&self, log: &QueryLog, searches: &mut Vec<u32>) {
        if !self.is_empty() {
            searches.retain(|&s| !self.contains(log.searches[s as usize].identity));
        }
    }
}
