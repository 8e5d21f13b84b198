//! Who gets a queued case: each unit's routing settings, agents' presence
//! and capacity, and the choice itself (round robin or least loaded),
//! which skips agents who are not online or are at capacity on the case's
//! channel.

use super::{Channel, Error, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether an agent is taking cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Taking cases.
    Online,
    /// At the desk but not taking new cases (set by the agent, or after a
    /// while without activity in the console).
    Away,
    /// Gone; by unit policy their open cases go back to the queue.
    Offline,
}

impl Presence {
    pub const ALL: [Presence; 3] = [Presence::Online, Presence::Away, Presence::Offline];

    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }

    pub fn parse(field: &str, value: &str) -> Result<Self, Error> {
        Presence::ALL
            .into_iter()
            .find(|p| p.as_str() == value)
            .ok_or_else(|| Error::invalid(field, "must be `online`, `away` or `offline`"))
    }
}

/// How a unit hands out its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingMode {
    /// Agents take cases from the queue themselves.
    #[default]
    Manual,
    /// The online agent who was given a case longest ago.
    RoundRobin,
    /// The online agent with the fewest open cases.
    LeastLoaded,
}

/// How many open cases an agent holds at once: a default, and per channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capacity {
    pub default: u32,
    /// Per channel (`whatsapp`, `email`...), overriding the default.
    pub channels: BTreeMap<String, u32>,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity { default: 5, channels: BTreeMap::new() }
    }
}

impl Capacity {
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        for (name, limit) in &self.channels {
            Channel::parse(&format!("{field}.channels"), name)?;
            if *limit > 500 {
                return Err(Error::invalid(format!("{field}.channels.{name}"), "must be at most 500"));
            }
        }
        if self.default > 500 {
            return Err(Error::invalid(format!("{field}.default"), "must be at most 500"));
        }
        Ok(())
    }

    pub fn on(&self, channel: Channel) -> u32 {
        self.channels.get(channel.as_str()).copied().unwrap_or(self.default)
    }
}

/// A unit's routing settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RoutingSettings {
    pub mode: RoutingMode,
    /// Agents' capacity in this unit, unless an agent has their own.
    pub capacity: Capacity,
    /// When an agent goes offline, their open cases in this unit go back to
    /// its queue (and are routed again).
    pub requeue_when_offline: bool,
}

impl RoutingSettings {
    pub fn validate(&self, field: &str) -> Result<(), Error> {
        self.capacity.validate(&format!("{field}.capacity"))
    }
}

/// An agent who could take a case, as the router sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub user: UserId,
    pub presence: Presence,
    /// Open cases they hold, on every channel.
    pub load: u32,
    /// Open cases they hold on the case's channel.
    pub load_on_channel: u32,
    /// Their capacity on the case's channel.
    pub capacity: u32,
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl Candidate {
    pub fn available(&self) -> bool {
        self.presence == Presence::Online && self.load_on_channel < self.capacity
    }
}

/// The agent a case goes to, if any is online with room; `None` in manual
/// mode. Ties go to whoever waited longest for a case, then to the lowest id,
/// so the choice is the same on every instance.
pub fn choose(mode: RoutingMode, candidates: &[Candidate]) -> Option<UserId> {
    // Never given a case sorts before any time.
    let waited = |c: &Candidate| (c.last_assigned_at, c.user.0);
    let available = candidates.iter().filter(|c| c.available());
    match mode {
        RoutingMode::Manual => None,
        RoutingMode::RoundRobin => available.min_by_key(|c| waited(c)).map(|c| c.user),
        RoutingMode::LeastLoaded => available.min_by_key(|c| (c.load, waited(c))).map(|c| c.user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(n: u128, load: u32, on_channel: u32, capacity: u32, last: Option<i64>) -> Candidate {
        Candidate {
            user: UserId(uuid::Uuid::from_u128(n)),
            presence: Presence::Online,
            load,
            load_on_channel: on_channel,
            capacity,
            last_assigned_at: last.map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        }
    }

    #[test]
    fn round_robin_takes_who_waited_longest() {
        let agents = [agent(1, 0, 0, 5, Some(30)), agent(2, 3, 3, 5, Some(10)), agent(3, 0, 0, 5, Some(20))];
        assert_eq!(choose(RoutingMode::RoundRobin, &agents), Some(agents[1].user));
        let fresh = [agent(1, 0, 0, 5, Some(30)), agent(2, 0, 0, 5, None)];
        assert_eq!(choose(RoutingMode::RoundRobin, &fresh), Some(fresh[1].user));
    }

    #[test]
    fn least_loaded_counts_every_channel() {
        let agents = [agent(1, 4, 0, 5, None), agent(2, 1, 1, 5, Some(50)), agent(3, 2, 0, 5, None)];
        assert_eq!(choose(RoutingMode::LeastLoaded, &agents), Some(agents[1].user));
    }

    #[test]
    fn skips_the_full_and_the_absent() {
        let mut away = agent(1, 0, 0, 5, None);
        away.presence = Presence::Away;
        let full = agent(2, 2, 2, 2, None);
        let free = agent(3, 9, 1, 2, Some(99));
        assert_eq!(choose(RoutingMode::LeastLoaded, &[away.clone(), full.clone(), free.clone()]), Some(free.user));
        assert_eq!(choose(RoutingMode::RoundRobin, &[away, full]), None);
        assert_eq!(choose(RoutingMode::Manual, &[free]), None);
    }

    #[test]
    fn capacity_per_channel_overrides_the_default() {
        let capacity = Capacity { default: 4, channels: [("email".to_owned(), 10)].into() };
        assert_eq!(capacity.on(Channel::Email), 10);
        assert_eq!(capacity.on(Channel::Whatsapp), 4);
        let bad = Capacity { default: 4, channels: [("fax".to_owned(), 1)].into() };
        assert!(bad.validate("routing.capacity").is_err());
    }
}
