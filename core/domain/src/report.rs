//! What reports measure: the facts of one case, derived from its timeline
//! (the moments it was created, changed status, owner or unit, and got a
//! message or a note), in calendar time and in the business time of its
//! unit; and the statistics reports give of a set of durations.
//!
//! The definitions here are the ones docs/reports.md states to
//! institutions; change one and that page changes with it.

use super::{AuthorKind, BusinessHours, CaseStatus, UnitId, UserId};
use chrono::{DateTime, Utc};

/// One moment of a case's life, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub kind: StepKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// The case was opened with this status (and owner, if any).
    Created {
        status: CaseStatus,
        assignee: Option<UserId>,
    },
    Status {
        from: CaseStatus,
        to: CaseStatus,
    },
    Assigned {
        to: Option<UserId>,
    },
    Transferred {
        to: UnitId,
    },
    Message {
        author: AuthorKind,
    },
    Note,
}

/// A unit's calendar: business time is the time it is open.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub hours: BusinessHours,
    pub tz: chrono_tz::Tz,
}

impl Calendar {
    fn business(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        self.hours.open_time_between(self.tz, from, to).num_seconds()
    }
}

/// A duration in seconds, on the calendar and in the unit's business time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub calendar: i64,
    pub business: i64,
}

impl Span {
    fn between(cal: &Calendar, from: DateTime<Utc>, to: DateTime<Utc>) -> Span {
        if to <= from {
            return Span::default();
        }
        Span { calendar: (to - from).num_seconds(), business: cal.business(from, to) }
    }

    fn add(&mut self, other: Span) {
        self.calendar += other.calendar;
        self.business += other.business;
    }
}

/// The facts reports count about one case.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    /// The bot talked with the person first.
    pub started_in_bot: bool,
    /// When the case left the bot for people (none if it never did).
    pub handoff_at: Option<DateTime<Utc>>,
    /// When people took over: the hand-off, or the creation of a case that
    /// did not start with the bot.
    pub people_from: Option<DateTime<Utc>>,
    pub first_assigned_at: Option<DateTime<Utc>>,
    pub first_response_at: Option<DateTime<Utc>>,
    /// When it was last resolved or closed, if it has ended.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who owned it last.
    pub agent: Option<UserId>,
    /// Times it came back after being resolved.
    pub reopens: i32,
    pub transfers: i32,
    pub agent_replies: i32,
    pub notes: i32,
    /// Ended with the bot, never handed to people.
    pub bot_contained: bool,
    /// Ended before anyone (people or bot) answered the person.
    pub abandoned: bool,
    /// From `people_from` to the first reply of a person of the unit.
    pub first_response: Option<Span>,
    /// From the hand-off to the first assignment (bot cases only).
    pub handoff_wait: Option<Span>,
    /// From `people_from` to the first assignment.
    pub assignment: Option<Span>,
    /// From creation to the last resolution, for ended cases people attended.
    pub resolution: Option<Span>,
    /// Time owned by an agent and not waiting on the person (`assigned`).
    pub handling: Span,
    /// Time waiting on the person (`waiting_on_contact`).
    pub waiting: Span,
}

/// The facts of a case created at `created` whose timeline is `steps`
/// (in order), measured in `cal`.
pub fn facts(created: DateTime<Utc>, steps: &[Step], cal: &Calendar) -> Facts {
    let mut f = Facts::default();
    let mut status = CaseStatus::Queued;
    let mut since = created;
    let mut answered = false;
    let mut ended_with_people = false;
    let close_interval = |f: &mut Facts, status: CaseStatus, since: DateTime<Utc>, at: DateTime<Utc>| match status {
        CaseStatus::Assigned => f.handling.add(Span::between(cal, since, at)),
        CaseStatus::WaitingOnContact => f.waiting.add(Span::between(cal, since, at)),
        _ => {}
    };
    for step in steps {
        let at = step.at.max(created);
        let to = match &step.kind {
            StepKind::Created { status: s, assignee } => {
                f.started_in_bot = *s == CaseStatus::Bot;
                f.agent = *assignee;
                if *s == CaseStatus::Assigned {
                    f.first_assigned_at.get_or_insert(created);
                }
                Some(*s)
            }
            StepKind::Status { to, .. } => Some(*to),
            StepKind::Assigned { to } => {
                if to.is_some() {
                    f.agent = *to;
                    f.first_assigned_at.get_or_insert(at);
                }
                None
            }
            StepKind::Transferred { .. } => {
                f.transfers += 1;
                None
            }
            StepKind::Message { author } => {
                match author {
                    AuthorKind::Agent => {
                        f.agent_replies += 1;
                        f.first_response_at.get_or_insert(at);
                        answered = true;
                    }
                    AuthorKind::Bot => answered = true,
                    AuthorKind::Contact | AuthorKind::System => {}
                }
                None
            }
            StepKind::Note => {
                f.notes += 1;
                None
            }
        };
        let Some(to) = to.filter(|to| *to != status || matches!(step.kind, StepKind::Created { .. })) else {
            continue;
        };
        close_interval(&mut f, status, since, at);
        if status == CaseStatus::Bot && to != CaseStatus::Bot && to.is_open() {
            f.handoff_at.get_or_insert(at);
        }
        if matches!(status, CaseStatus::Resolved | CaseStatus::Closed) && to.is_open() {
            f.reopens += 1;
            f.resolved_at = None;
        }
        if !to.is_open() && status.is_open() {
            f.resolved_at = Some(at);
            ended_with_people = status != CaseStatus::Bot || f.handoff_at.is_some();
        }
        if to == CaseStatus::Assigned {
            f.first_assigned_at.get_or_insert(at);
        }
        status = to;
        since = at;
    }
    f.people_from = if f.started_in_bot { f.handoff_at } else { Some(created) };
    let span_from_people = |until: Option<DateTime<Utc>>| match (f.people_from, until) {
        (Some(from), Some(to)) => Some(Span::between(cal, from, to)),
        _ => None,
    };
    f.first_response = span_from_people(f.first_response_at);
    f.assignment = span_from_people(f.first_assigned_at);
    f.handoff_wait = match (f.handoff_at, f.first_assigned_at) {
        (Some(from), Some(to)) => Some(Span::between(cal, from, to)),
        _ => None,
    };
    let ended = f.resolved_at.is_some();
    f.bot_contained = ended && f.started_in_bot && f.handoff_at.is_none();
    f.resolution = match f.resolved_at {
        Some(at) if ended_with_people || !f.started_in_bot => Some(Span::between(cal, created, at)),
        _ => None,
    };
    f.abandoned = ended && !answered;
    f
}

/// Mean, median and 90th percentile of a set of durations (or scores).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// Summarises `values` (sorted here): the median and the 90th percentile
/// are nearest-rank values of the set, so each is a value that occurred.
pub fn summarise(values: &mut [i64]) -> Summary {
    if values.is_empty() {
        return Summary::default();
    }
    values.sort_unstable();
    let n = values.len();
    let rank = |p: f64| values[((p * n as f64).ceil() as usize).clamp(1, n) - 1] as f64;
    let sum: i128 = values.iter().map(|v| i128::from(*v)).sum();
    Summary { count: n as u64, mean: Some(sum as f64 / n as f64), median: Some(rank(0.5)), p90: Some(rank(0.9)) }
}

/// How report rows are grouped by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Hour,
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(name: &str) -> Option<Period> {
        Some(match name {
            "hour" => Period::Hour,
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            _ => return None,
        })
    }

    /// The label of the period `at` falls in, in `tz`: `2026-03-02T14`,
    /// `2026-03-02`, `2026-W10` (ISO week) or `2026-03`; labels sort in
    /// time order.
    pub fn label(self, at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
        use chrono::Datelike;
        let local = at.with_timezone(&tz);
        match self {
            Period::Hour => local.format("%Y-%m-%dT%H").to_string(),
            Period::Day => local.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let week = local.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Period::Month => local.format("%Y-%m").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::DayHours;
    use chrono::{NaiveTime, TimeZone, Weekday};

    /// Monday to Friday 8:00-17:00 in Bogotá (UTC-5), closed on 2026-03-23.
    fn office() -> Calendar {
        let weekly = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
            .into_iter()
            .map(|day| DayHours {
                day,
                open: NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
                close: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            })
            .collect();
        let holidays = vec![chrono::NaiveDate::from_ymd_opt(2026, 3, 23).unwrap()];
        Calendar { hours: BusinessHours { weekly, holidays }, tz: chrono_tz::America::Bogota }
    }

    /// A local time in Bogotá.
    fn bog(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::America::Bogota.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap().with_timezone(&Utc)
    }

    fn step(at: DateTime<Utc>, kind: StepKind) -> Step {
        Step { at, kind }
    }

    fn status(from: CaseStatus, to: CaseStatus) -> StepKind {
        StepKind::Status { from, to }
    }

    const AGENT: StepKind = StepKind::Message { author: AuthorKind::Agent };
    const PERSON: StepKind = StepKind::Message { author: AuthorKind::Contact };
    const BOT: StepKind = StepKind::Message { author: AuthorKind::Bot };

    #[test]
    fn a_case_written_after_hours_is_answered_in_business_time() {
        use CaseStatus::*;
        let ana = UserId::new();
        // Friday 16:30; answered Monday 8:15 (Monday 23 is a holiday: Tuesday 24).
        let created = bog(20, 16, 30);
        let steps = [
            step(created, StepKind::Created { status: Queued, assignee: None }),
            step(created, PERSON),
            step(bog(24, 8, 5), StepKind::Assigned { to: Some(ana) }),
            step(bog(24, 8, 5), status(Queued, Assigned)),
            step(bog(24, 8, 15), AGENT),
            step(bog(24, 8, 15), status(Assigned, WaitingOnContact)),
            step(bog(24, 10, 15), PERSON),
            step(bog(24, 10, 15), status(WaitingOnContact, Assigned)),
            step(bog(24, 10, 45), StepKind::Note),
            step(bog(24, 11, 0), status(Assigned, Resolved)),
        ];
        let f = facts(created, &steps, &office());
        // 30 minutes on Friday, 15 on Tuesday.
        let first = f.first_response.unwrap();
        assert_eq!(first.business, 45 * 60);
        assert_eq!(first.calendar, (bog(24, 8, 15) - created).num_seconds());
        assert_eq!(f.assignment.unwrap().business, 35 * 60);
        assert_eq!(f.resolution.unwrap().business, 30 * 60 + 3 * 3600);
        // Owned 8:05-8:15 and 10:15-11:00; waiting 8:15-10:15.
        assert_eq!(f.handling, Span { calendar: 55 * 60, business: 55 * 60 });
        assert_eq!(f.waiting.business, 2 * 3600);
        assert_eq!((f.agent, f.agent_replies, f.notes, f.reopens), (Some(ana), 1, 1, 0));
        assert!(!f.abandoned && !f.started_in_bot && f.handoff_wait.is_none());
    }

    #[test]
    fn a_bot_hand_off_starts_the_people_clock() {
        use CaseStatus::*;
        let ana = UserId::new();
        let created = bog(18, 9, 0);
        let steps = [
            step(created, StepKind::Created { status: Bot, assignee: None }),
            step(created, PERSON),
            step(bog(18, 9, 1), BOT),
            step(bog(18, 9, 10), status(Bot, Queued)),
            step(bog(18, 9, 25), StepKind::Assigned { to: Some(ana) }),
            step(bog(18, 9, 25), status(Queued, Assigned)),
            step(bog(18, 9, 30), AGENT),
        ];
        let f = facts(created, &steps, &office());
        assert_eq!(f.handoff_at, Some(bog(18, 9, 10)));
        assert_eq!(f.handoff_wait.unwrap().calendar, 15 * 60);
        assert_eq!(f.first_response.unwrap().calendar, 20 * 60);
        assert!(f.resolution.is_none() && !f.bot_contained && !f.abandoned);
    }

    #[test]
    fn the_bot_contains_abandonments_reopenings_and_transfers_count() {
        use CaseStatus::*;
        let created = bog(18, 9, 0);
        let contained = [
            step(created, StepKind::Created { status: Bot, assignee: None }),
            step(bog(18, 9, 1), BOT),
            step(bog(18, 9, 3), status(Bot, Closed)),
        ];
        let f = facts(created, &contained, &office());
        assert!(f.bot_contained && !f.abandoned && f.resolution.is_none());

        let left = [
            step(created, StepKind::Created { status: Queued, assignee: None }),
            step(created, PERSON),
            step(bog(18, 9, 20), status(Queued, Closed)),
        ];
        let f = facts(created, &left, &office());
        assert!(f.abandoned && !f.bot_contained);
        assert_eq!(f.resolution.unwrap().calendar, 20 * 60);

        let unit = UnitId::new();
        let back = [
            step(created, StepKind::Created { status: Queued, assignee: None }),
            step(bog(18, 9, 5), AGENT),
            step(bog(18, 9, 10), status(Queued, Resolved)),
            step(bog(18, 10, 0), status(Resolved, Queued)),
            step(bog(18, 10, 5), StepKind::Transferred { to: unit }),
            step(bog(18, 11, 0), status(Queued, Resolved)),
        ];
        let f = facts(created, &back, &office());
        assert_eq!((f.reopens, f.transfers), (1, 1));
        assert_eq!(f.resolution.unwrap().calendar, 2 * 3600);
    }

    #[test]
    fn summaries_use_nearest_ranks() {
        let mut values: Vec<i64> = (1..=10).rev().collect();
        let s = summarise(&mut values);
        assert_eq!((s.count, s.mean, s.median, s.p90), (10, Some(5.5), Some(5.0), Some(9.0)));
        assert_eq!(summarise(&mut []), Summary::default());
        assert_eq!(summarise(&mut [7]).p90, Some(7.0));
    }

    #[test]
    fn periods_are_labelled_in_local_time() {
        let tz = chrono_tz::America::Bogota;
        // 02:30 UTC on 2 March is still 1 March in Bogotá.
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 2, 30, 0).unwrap();
        assert_eq!(Period::Day.label(at, tz), "2026-03-01");
        assert_eq!(Period::Hour.label(at, tz), "2026-03-01T21");
        assert_eq!(Period::Week.label(at, tz), "2026-W09");
        assert_eq!(Period::Month.label(at, tz), "2026-03");
    }
}
