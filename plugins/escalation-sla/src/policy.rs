//! The clocks of one case, without I/O: what happened goes in, the new
//! state and what to tell people come out. Time is counted by a [`Hours`]
//! (the unit's business hours through the host, or plain time).

use serde::{Deserialize, Serialize};

/// Business time, as the host counts it for the case's unit (all in ms).
pub trait Hours {
    /// The instant `open` of business time after `from`.
    fn add(&self, from: i64, open: u64) -> i64;
    /// Business time between two instants.
    fn between(&self, from: i64, to: i64) -> u64;
}

/// Targets for one priority, in minutes (fractions allowed).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Targets {
    pub first_response_minutes: f64,
    pub resolution_minutes: f64,
}

fn ms(minutes: f64) -> u64 {
    (minutes * 60_000.0).round().max(0.0) as u64
}

/// Targets per priority (`low`, `normal`, `high`, `urgent`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Policies {
    pub low: Targets,
    pub normal: Targets,
    pub high: Targets,
    pub urgent: Targets,
}

impl Default for Policies {
    /// Business minutes: a working day is 9 h (540 min).
    fn default() -> Self {
        let t = |first_response_minutes, resolution_minutes| Targets { first_response_minutes, resolution_minutes };
        Policies { low: t(480.0, 2700.0), normal: t(240.0, 1620.0), high: t(60.0, 540.0), urgent: t(30.0, 240.0) }
    }
}

impl Policies {
    pub fn for_priority(&self, priority: &str) -> Targets {
        match priority {
            "low" => self.low,
            "high" => self.high,
            "urgent" => self.urgent,
            _ => self.normal,
        }
    }
}

/// Where one target stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum State {
    #[default]
    #[serde(rename = "r")]
    Running,
    #[serde(rename = "p")]
    Paused,
    #[serde(rename = "w")]
    Warning,
    #[serde(rename = "b")]
    Breached,
    #[serde(rename = "m")]
    Met,
}

impl State {
    /// Still to be met, with a clock that runs.
    fn ticking(self) -> bool {
        matches!(self, State::Running | State::Warning)
    }
}

/// One target's clock (short field names: this lives in the plugin's kv).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Clock {
    #[serde(rename = "t")]
    pub state: State,
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub due: Option<i64>,
    #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
    pub warn: Option<i64>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub settled: Option<i64>,
}

/// What the protocol keeps about a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked {
    /// When the clocks started (the case reached people).
    #[serde(rename = "s")]
    pub start: i64,
    /// The priority the deadlines were computed for.
    #[serde(rename = "p")]
    pub priority: String,
    /// Business time (ms) the resolution clock was stopped for.
    #[serde(rename = "m", default)]
    pub paused_ms: u64,
    #[serde(rename = "z", default, skip_serializing_if = "Option::is_none")]
    pub paused_since: Option<i64>,
    #[serde(rename = "f")]
    pub first_response: Clock,
    #[serde(rename = "r")]
    pub resolution: Clock,
    /// Whether the case was already moved to the escalation unit.
    #[serde(rename = "e", default)]
    pub escalated: bool,
}

/// What happened to the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    /// The case reached people (created for them, or handed off by the bot).
    Started,
    AgentReplied,
    ContactWrote,
    /// The case waits on the person.
    Waiting,
    /// Back to work after waiting.
    Resumed,
    Resolved,
    Reopened,
    /// A timer fired, or anything else: look at the clocks again.
    Tick,
}

/// The two targets this protocol keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    FirstResponse,
    Resolution,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::FirstResponse, Target::Resolution];

    pub fn name(self) -> &'static str {
        match self {
            Target::FirstResponse => "first_response",
            Target::Resolution => "resolution",
        }
    }
}

/// What people must be told after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    Warning(Target, i64),
    Breach(Target),
}

/// How the protocol is set up.
#[derive(Debug, Clone)]
pub struct Policy {
    pub targets: Policies,
    /// Warn when this share of the time has passed (1-99).
    pub warn_percent: u32,
    /// Stop the resolution clock while the case waits on the person.
    pub pause_while_waiting: bool,
}

impl Tracked {
    pub fn clock(&self, target: Target) -> &Clock {
        match target {
            Target::FirstResponse => &self.first_response,
            Target::Resolution => &self.resolution,
        }
    }

    fn clock_mut(&mut self, target: Target) -> &mut Clock {
        match target {
            Target::FirstResponse => &mut self.first_response,
            Target::Resolution => &mut self.resolution,
        }
    }

    /// Whether nothing is left to watch (the state can be forgotten).
    pub fn settled(&self) -> bool {
        !Target::ALL.iter().any(|t| matches!(self.clock(*t).state, State::Running | State::Warning | State::Paused))
    }
}

fn fresh(now: i64, priority: &str) -> Tracked {
    Tracked {
        start: now,
        priority: priority.to_owned(),
        paused_ms: 0,
        paused_since: None,
        first_response: Clock::default(),
        resolution: Clock::default(),
        escalated: false,
    }
}

/// Settles a target: met now, unless it was already breached (a breach
/// stays on record, with its time).
fn settle(clock: &mut Clock, now: i64) {
    if clock.state != State::Breached && clock.state != State::Met {
        *clock = Clock { state: State::Met, due: clock.due, warn: None, settled: Some(now) };
    }
}

/// Applies what happened at `now` to the case's clocks, at its current
/// `priority`; returns the new state (none: nothing to keep) and the alerts.
pub fn step(
    tracked: Option<Tracked>,
    happening: Happening,
    now: i64,
    priority: &str,
    policy: &Policy,
    hours: &dyn Hours,
) -> (Option<Tracked>, Vec<Alert>) {
    let mut t = match (tracked, happening) {
        (None, Happening::Started) => fresh(now, priority),
        // A reopened case gets its resolution clock again; its first
        // response stays as it was.
        (Some(mut t), Happening::Reopened) => {
            t.resolution = Clock::default();
            t.start = now;
            t.paused_ms = 0;
            t.paused_since = None;
            t
        }
        (None, Happening::Reopened) => {
            let mut t = fresh(now, priority);
            t.first_response = Clock { state: State::Met, due: None, warn: None, settled: Some(now) };
            t
        }
        (Some(t), _) => t,
        (None, _) => return (None, vec![]),
    };
    match happening {
        Happening::AgentReplied => settle(&mut t.first_response, now),
        Happening::Resolved => {
            settle(&mut t.first_response, now);
            settle(&mut t.resolution, now);
            t.paused_since = None;
        }
        Happening::Waiting
            if policy.pause_while_waiting && t.paused_since.is_none() && t.resolution.state.ticking() =>
        {
            t.paused_since = Some(now);
        }
        Happening::Resumed | Happening::ContactWrote => {
            if let Some(since) = t.paused_since.take() {
                t.paused_ms = t.paused_ms.saturating_add(hours.between(since, now));
            }
        }
        _ => {}
    }
    t.priority = priority.to_owned();
    let targets = policy.targets.for_priority(priority);
    let mut alerts = vec![];
    for target in Target::ALL {
        let allowed = ms(match target {
            Target::FirstResponse => targets.first_response_minutes,
            Target::Resolution => targets.resolution_minutes,
        });
        let paused = target == Target::Resolution && t.paused_since.is_some();
        let extra = if target == Target::Resolution { t.paused_ms } else { 0 };
        let start = t.start;
        let clock = t.clock_mut(target);
        if !(clock.state.ticking() || clock.state == State::Paused) {
            continue;
        }
        if paused {
            *clock = Clock { state: State::Paused, due: None, warn: None, settled: None };
            continue;
        }
        let due = hours.add(start, allowed.saturating_add(extra));
        let warn_after = allowed * u64::from(policy.warn_percent.clamp(1, 99)) / 100;
        let warn = hours.add(start, warn_after.saturating_add(extra));
        let was = clock.state;
        *clock = Clock { state: State::Running, due: Some(due), warn: Some(warn), settled: None };
        if now >= due {
            *clock = Clock { state: State::Breached, due: Some(due), warn: None, settled: Some(due) };
            alerts.push(Alert::Breach(target));
        } else if now >= warn {
            clock.state = State::Warning;
            if was != State::Warning {
                alerts.push(Alert::Warning(target, due));
            }
        }
    }
    (Some(t), alerts)
}

/// When the protocol should look at a target again: its warning point, or
/// its deadline once warned; none when its clock does not run.
pub fn next_check(clock: &Clock) -> Option<i64> {
    match clock.state {
        State::Running => clock.warn,
        State::Warning => clock.due,
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    /// Plain time: every minute counts.
    struct Always;
    impl Hours for Always {
        fn add(&self, from: i64, open: u64) -> i64 {
            from + open as i64
        }
        fn between(&self, from: i64, to: i64) -> u64 {
            (to - from).max(0) as u64
        }
    }

    /// Open only in the first 60 minutes of every 120 (a toy unit).
    struct HalfOpen;
    impl HalfOpen {
        fn open_minutes_until(t: i64) -> i64 {
            let m = t / MIN;
            (m / 120) * 60 + (m % 120).min(60)
        }
    }
    impl Hours for HalfOpen {
        fn add(&self, from: i64, open: u64) -> i64 {
            let mut open = Self::open_minutes_until(from) + open as i64 / MIN;
            let mut at = (open / 60) * 120 + open % 60;
            if open % 60 == 0 && open > 0 {
                // Ends at the closing time of the last open block.
                open -= 60;
                at = (open / 60) * 120 + 60;
            }
            at * MIN
        }
        fn between(&self, from: i64, to: i64) -> u64 {
            ((Self::open_minutes_until(to) - Self::open_minutes_until(from)).max(0) * MIN) as u64
        }
    }

    fn policy() -> Policy {
        Policy { targets: Policies::default(), warn_percent: 75, pause_while_waiting: true }
    }

    #[test]
    fn a_reply_in_time_meets_the_first_response() {
        let (t, alerts) = step(None, Happening::Started, 0, "normal", &policy(), &Always);
        let t = t.unwrap();
        assert!(alerts.is_empty());
        assert_eq!(t.first_response.due, Some(240 * MIN));
        assert_eq!(t.first_response.warn, Some(180 * MIN));
        assert_eq!(next_check(&t.first_response), Some(180 * MIN));
        let (t, alerts) = step(Some(t), Happening::AgentReplied, 100 * MIN, "normal", &policy(), &Always);
        let t = t.unwrap();
        assert!(alerts.is_empty());
        assert_eq!(t.first_response.state, State::Met);
        assert_eq!(t.first_response.settled, Some(100 * MIN));
        assert_eq!(next_check(&t.first_response), None);
        assert_eq!(t.resolution.state, State::Running);
    }

    #[test]
    fn warning_then_breach_each_alert_once() {
        let (t, _) = step(None, Happening::Started, 0, "urgent", &policy(), &Always);
        let (t, alerts) = step(t, Happening::Tick, 23 * MIN, "urgent", &policy(), &Always);
        assert_eq!(alerts, vec![Alert::Warning(Target::FirstResponse, 30 * MIN)]);
        let (t, alerts) = step(t, Happening::Tick, 24 * MIN, "urgent", &policy(), &Always);
        assert!(alerts.is_empty(), "warned once");
        let (t, alerts) = step(t, Happening::Tick, 30 * MIN, "urgent", &policy(), &Always);
        assert_eq!(alerts, vec![Alert::Breach(Target::FirstResponse)]);
        let t = t.unwrap();
        assert_eq!(t.first_response.state, State::Breached);
        assert_eq!(t.first_response.settled, Some(30 * MIN));
        // A late reply does not erase the breach.
        let (t, alerts) = step(Some(t), Happening::AgentReplied, 40 * MIN, "urgent", &policy(), &Always);
        assert!(alerts.is_empty());
        assert_eq!(t.unwrap().first_response.state, State::Breached);
    }

    #[test]
    fn waiting_on_the_person_stops_the_resolution_clock() {
        let (t, _) = step(None, Happening::Started, 0, "high", &policy(), &Always);
        let (t, _) = step(t, Happening::AgentReplied, 10 * MIN, "high", &policy(), &Always);
        let (t, _) = step(t, Happening::Waiting, 100 * MIN, "high", &policy(), &Always);
        let paused = t.clone().unwrap();
        assert_eq!(paused.resolution.state, State::Paused);
        assert_eq!(paused.resolution.due, None);
        // Two days later, still no breach while waiting.
        let (t, alerts) = step(t, Happening::Tick, 3000 * MIN, "high", &policy(), &Always);
        assert!(alerts.is_empty());
        // The person answers after 1000 minutes: the deadline moves by that much.
        let (t, _) = step(t, Happening::ContactWrote, 1100 * MIN, "high", &policy(), &Always);
        let t = t.unwrap();
        assert_eq!(t.paused_ms, 1000 * MIN as u64);
        assert_eq!(t.resolution.due, Some((540 + 1000) * MIN));
        assert_eq!(t.resolution.state, State::Running);
    }

    #[test]
    fn a_higher_priority_tightens_the_deadlines() {
        let (t, _) = step(None, Happening::Started, 0, "normal", &policy(), &Always);
        let (t, alerts) = step(t, Happening::Tick, 45 * MIN, "urgent", &policy(), &Always);
        assert_eq!(alerts, vec![Alert::Breach(Target::FirstResponse)]);
        let t = t.unwrap();
        assert_eq!(t.first_response.due, Some(30 * MIN));
        assert_eq!(t.resolution.due, Some(240 * MIN));
    }

    #[test]
    fn resolving_settles_and_reopening_restarts_the_resolution_clock() {
        let (t, _) = step(None, Happening::Started, 0, "normal", &policy(), &Always);
        let (t, _) = step(t, Happening::Resolved, 60 * MIN, "normal", &policy(), &Always);
        let resolved = t.clone().unwrap();
        assert!(resolved.settled());
        assert_eq!(resolved.resolution.state, State::Met);
        let (t, _) = step(t, Happening::Reopened, 600 * MIN, "normal", &policy(), &Always);
        let t = t.unwrap();
        assert_eq!(t.first_response.state, State::Met);
        assert_eq!(t.resolution.state, State::Running);
        assert_eq!(t.resolution.due, Some((600 + 1620) * MIN));
        // Nothing tracked and nothing starting: nothing to keep.
        assert_eq!(step(None, Happening::Tick, 0, "normal", &policy(), &Always), (None, vec![]));
    }

    #[test]
    fn deadlines_count_business_time_only() {
        // Starts at minute 30 of an open block; 60 business minutes end at
        // minute 30 of the next open block (minute 150).
        let targets = Targets { first_response_minutes: 60.0, resolution_minutes: 120.0 };
        let policy = Policy {
            targets: Policies { normal: targets, ..Policies::default() },
            warn_percent: 50,
            pause_while_waiting: false,
        };
        let (t, _) = step(None, Happening::Started, 30 * MIN, "normal", &policy, &HalfOpen);
        let t = t.unwrap();
        assert_eq!(t.first_response.due, Some(150 * MIN));
        assert_eq!(t.first_response.warn, Some(60 * MIN));
        assert_eq!(t.resolution.due, Some(270 * MIN));
        // At minute 100 (closed) the first response is warned, not breached.
        let (_, alerts) = step(Some(t), Happening::Tick, 100 * MIN, "normal", &policy, &HalfOpen);
        assert_eq!(alerts, vec![Alert::Warning(Target::FirstResponse, 150 * MIN)]);
    }
}
