//! Reports: the figures of the cases opened in a period, grouped by up to
//! two dimensions, as one table the API sends as JSON, CSV or XLSX (the
//! same cells in each), and scheduled reports mail.
//!
//! Every report counts the cases *opened* in `[from, to)` (a cohort): the
//! resolution time of March's cases is March's resolution time, whenever
//! they were resolved. The facts of each case come from `store::report`;
//! what each measure starts and stops on is `domain::report` and
//! docs/reports.md.

pub mod query;
pub mod schedule;
pub mod xlsx;

pub use query::{Format, Query, parse};

use crate::domain::UnitId;
use crate::domain::report::{Period, Summary, summarise};
use crate::store::report::entity::Column as FactColumn;
use crate::store::report::{FactFilter, FactRow, ReportScope};
use crate::store::{self, Store};
use std::collections::{BTreeMap, HashMap};

/// The reports there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// Cases opened, ended, reopened, transferred, abandoned, kept by the bot.
    Volume,
    /// First response, time to assignment, wait after the bot's hand-off.
    Response,
    /// Resolution, handling and waiting-on-the-person times; reopen rate.
    Resolution,
    /// Each agent's cases, replies, notes, times and satisfaction.
    Agents,
    /// Service-level targets met, at risk and breached.
    Sla,
    /// Surveys sent and answered, mean score and the scores' spread.
    Satisfaction,
    /// What the bot kept, handed off and how sure it was.
    Bot,
    /// What people ask about: cases per tag (or custom field) and their times.
    Topics,
}

impl Report {
    pub const ALL: [Report; 8] = [
        Report::Volume,
        Report::Response,
        Report::Resolution,
        Report::Agents,
        Report::Sla,
        Report::Satisfaction,
        Report::Bot,
        Report::Topics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Report::Volume => "volume",
            Report::Response => "response",
            Report::Resolution => "resolution",
            Report::Agents => "agents",
            Report::Sla => "sla",
            Report::Satisfaction => "satisfaction",
            Report::Bot => "bot",
            Report::Topics => "topics",
        }
    }

    pub fn parse(name: &str) -> Option<Report> {
        Report::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// What rows are grouped by when the caller does not say.
    pub fn default_group(self) -> Vec<Dim> {
        match self {
            Report::Agents => vec![Dim::Agent],
            Report::Topics => vec![Dim::Tag],
            Report::Sla => vec![Dim::Target],
            _ => vec![],
        }
    }
}

/// What rows can be grouped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Period(Period),
    Unit,
    Channel,
    ChannelInstall,
    Agent,
    Priority,
    Tag,
    /// A custom field of the unit's cases, by key.
    Field(String),
    /// An attribute of the person (program, campus, cohort...), by key.
    Contact(String),
    /// The service-level target (`sla` report only).
    Target,
    /// `human` or `bot` (`satisfaction` report only).
    AttendedBy,
}

impl Dim {
    /// Parses one `group_by` name: `week`, `unit`, `field.programa`...
    pub fn parse(name: &str, report: Report) -> Result<Dim, String> {
        if let Some(period) = Period::parse(name) {
            return Ok(Dim::Period(period));
        }
        Ok(match name {
            "unit" => Dim::Unit,
            "channel" => Dim::Channel,
            "channel_install" => Dim::ChannelInstall,
            "agent" => Dim::Agent,
            "priority" => Dim::Priority,
            "tag" => Dim::Tag,
            "target" if report == Report::Sla => Dim::Target,
            "attended_by" if report == Report::Satisfaction => Dim::AttendedBy,
            _ => match (name.strip_prefix("field."), name.strip_prefix("contact.")) {
                (Some(key), _) if !key.is_empty() && key.len() <= 40 => Dim::Field(key.to_owned()),
                (_, Some(key)) if !key.is_empty() && key.len() <= 40 => Dim::Contact(key.to_owned()),
                _ => {
                    return Err(format!(
                        "`{name}` is not a dimension: use hour, day, week, month, unit, channel, channel_install, \
                         agent, priority, tag, field.<key> or contact.<key>{}",
                        match report {
                            Report::Sla => ", target",
                            Report::Satisfaction => ", attended_by",
                            _ => "",
                        }
                    ));
                }
            },
        })
    }

    /// Its name in `group_by`.
    pub fn name(&self) -> String {
        match self {
            Dim::Period(p) => period_name(*p).to_owned(),
            Dim::Field(key) => format!("field.{key}"),
            Dim::Contact(key) => format!("contact.{key}"),
            Dim::Unit => "unit".into(),
            Dim::Channel => "channel".into(),
            Dim::ChannelInstall => "channel_install".into(),
            Dim::Agent => "agent".into(),
            Dim::Priority => "priority".into(),
            Dim::Tag => "tag".into(),
            Dim::Target => "target".into(),
            Dim::AttendedBy => "attended_by".into(),
        }
    }

    /// The columns it adds: an id and a name for units, agents and accounts.
    fn columns(&self) -> Vec<String> {
        match self {
            Dim::Period(p) => vec![period_name(*p).to_owned()],
            Dim::Unit => vec!["unit_id".into(), "unit".into()],
            Dim::Channel => vec!["channel".into()],
            Dim::ChannelInstall => vec!["channel_install_id".into(), "channel_install".into()],
            Dim::Agent => vec!["agent_id".into(), "agent".into()],
            Dim::Priority => vec!["priority".into()],
            Dim::Tag => vec!["tag".into()],
            Dim::Field(key) => vec![format!("field.{key}")],
            Dim::Contact(key) => vec![format!("contact.{key}")],
            Dim::Target => vec!["target".into()],
            Dim::AttendedBy => vec!["attended_by".into()],
        }
    }

    fn named(&self) -> bool {
        matches!(self, Dim::Unit | Dim::ChannelInstall | Dim::Agent)
    }
}

fn period_name(p: Period) -> &'static str {
    match p {
        Period::Hour => "hour",
        Period::Day => "day",
        Period::Week => "week",
        Period::Month => "month",
    }
}

/// A report to run.
#[derive(Debug, Clone)]
pub struct Request {
    pub report: Report,
    /// Up to two; none for one row of totals (`Report::default_group`
    /// applies when the caller names none).
    pub group_by: Vec<Dim>,
    /// Where periods begin and end.
    pub tz: chrono_tz::Tz,
    pub scope: ReportScope,
    pub filter: FactFilter,
}

/// A report's result: named columns and rows of cells (a string, a
/// number or nothing), the same in JSON, CSV and XLSX.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// Most rows a report returns; more groups than this is a sign the
/// grouping is wrong (by hour over a year, say).
pub const MAX_ROWS: usize = 10_000;

/// A group's key: one value per dimension column-set (`None`: no value,
/// such as a case without tags).
type Key = Vec<Option<String>>;

/// Runs `request` against the facts in `store`.
pub async fn run(store: &Store, request: &Request) -> store::Result<Table> {
    let group_by = &request.group_by;
    let details = group_by.iter().any(|d| matches!(d, Dim::Tag | Dim::Field(_) | Dim::Contact(_)));
    // The agent report reads each case's id only to find its survey.
    let surveys = match request.report {
        Report::Agents | Report::Satisfaction => {
            store::report::surveys_for(&store.db, &request.scope, &request.filter).await?
        }
        _ => vec![],
    };
    let mut columns = columns_read(request.report, group_by);
    if request.report == Report::Agents && surveys.is_empty() && !details {
        columns.retain(|c| !matches!(c, FactColumn::CaseId));
    }
    let facts = store::report::facts_for(&store.db, &request.scope, &request.filter, &columns, details).await?;
    // Reports of things other than cases find each one's case by id.
    let index: HashMap<uuid::Uuid, usize> = match request.report {
        Report::Agents if surveys.is_empty() => HashMap::new(),
        Report::Agents | Report::Sla | Report::Satisfaction | Report::Bot => {
            facts.iter().enumerate().map(|(i, f)| (f.facts.case_id, i)).collect()
        }
        _ => HashMap::new(),
    };
    let grouper = Grouper { facts: &facts, dims: group_by, tz: request.tz };
    let (measures, groups): (Vec<String>, Vec<(Key, Vec<serde_json::Value>)>) = match request.report {
        Report::Volume | Report::Response | Report::Resolution | Report::Topics => {
            let groups = grouper.group(facts.iter().enumerate().map(|(i, _)| (i, None)));
            let compute = |rows: &[usize]| case_measures(request.report, &facts, rows);
            (case_columns(request.report), groups.into_iter().map(|(k, rows)| (k, compute(&rows))).collect())
        }
        Report::Agents => {
            let mut scores: HashMap<usize, i16> = HashMap::new();
            for (case, _, score) in surveys {
                if let (Some(i), Some(s)) = (index.get(&case), score) {
                    scores.insert(*i, s);
                }
            }
            let groups = grouper.group(facts.iter().enumerate().map(|(i, _)| (i, None)));
            let compute = |rows: &[usize]| agent_measures(&facts, rows, &scores);
            (agent_columns(), groups.into_iter().map(|(k, rows)| (k, compute(&rows))).collect())
        }
        Report::Sla => {
            let slas = store::report::slas_for(&store.db, &request.scope, &request.filter).await?;
            let items: Vec<(usize, String, String)> =
                slas.into_iter().filter_map(|(case, name, state)| Some((*index.get(&case)?, name, state))).collect();
            let groups = grouper.group(items.iter().enumerate().map(|(n, (i, name, _))| (*i, Some((n, name.clone())))));
            let compute = |members: &[usize]| sla_measures(members.iter().map(|n| items[*n].2.as_str()));
            (sla_columns(), groups.into_iter().map(|(k, m)| (k, compute(&m))).collect())
        }
        Report::Satisfaction => {
            let items: Vec<(usize, String, Option<i16>)> = surveys
                .into_iter()
                .filter_map(|(case, outcome, score)| Some((*index.get(&case)?, outcome, score)))
                .collect();
            let groups =
                grouper.group(items.iter().enumerate().map(|(n, (i, outcome, _))| (*i, Some((n, outcome.clone())))));
            let compute = |members: &[usize]| satisfaction_measures(members.iter().map(|n| items[*n].2));
            (satisfaction_columns(), groups.into_iter().map(|(k, m)| (k, compute(&m))).collect())
        }
        Report::Bot => {
            let outcomes = store::report::bot_outcomes_for(&store.db, &request.scope, &request.filter).await?;
            let mut by_case: HashMap<usize, (String, Option<f32>)> = HashMap::new();
            for (case, outcome, confidence) in outcomes {
                if let Some(i) = index.get(&case) {
                    by_case.insert(*i, (outcome, confidence));
                }
            }
            let started: Vec<usize> = (0..facts.len()).filter(|i| facts[*i].facts.started_in_bot).collect();
            let groups = grouper.group(started.iter().map(|i| (*i, None)));
            let compute = |rows: &[usize]| bot_measures(&facts, rows, &by_case);
            (bot_columns(), groups.into_iter().map(|(k, rows)| (k, compute(&rows))).collect())
        }
    };
    let labels = Labels::load(store, group_by, &facts).await?;
    let mut columns: Vec<String> = group_by.iter().flat_map(Dim::columns).collect();
    columns.extend(measures);
    let rows = groups
        .into_iter()
        .take(MAX_ROWS)
        .map(|(key, mut values)| {
            let mut row: Vec<serde_json::Value> = vec![];
            for (dim, value) in group_by.iter().zip(key) {
                row.push(value.clone().map_or(serde_json::Value::Null, serde_json::Value::String));
                if dim.named() {
                    let name = value.and_then(|id| labels.get(&id).cloned());
                    row.push(name.map_or(serde_json::Value::Null, serde_json::Value::String));
                }
            }
            row.append(&mut values);
            row
        })
        .collect();
    Ok(Table { columns, rows })
}

/// The facts `report` grouped by `dims` reads of each case: reading only
/// these is most of what makes a year of cases come back fast.
fn columns_read(report: Report, dims: &[Dim]) -> Vec<FactColumn> {
    use FactColumn::*;
    let mut columns = vec![];
    for dim in dims {
        columns.push(match dim {
            Dim::Period(_) => CreatedAt,
            Dim::Unit => UnitId,
            Dim::Channel => Channel,
            Dim::ChannelInstall => ChannelInstallId,
            Dim::Agent => AgentId,
            Dim::Priority => Priority,
            Dim::Tag | Dim::Field(_) | Dim::Contact(_) | Dim::Target | Dim::AttendedBy => CaseId,
        });
    }
    let durations = |list: &[Duration]| list.iter().flat_map(|d| d.columns_read()).collect::<Vec<_>>();
    columns.extend(match report {
        Report::Volume => {
            vec![ResolvedAt, Reopens, Transfers, Abandoned, StartedInBot, BotContained, AgentReplies, Notes]
        }
        Report::Response => durations(&[Duration::FirstResponse, Duration::Assignment, Duration::HandoffWait]),
        Report::Resolution => {
            let mut c = vec![ResolvedAt, Reopens];
            c.extend(durations(&[Duration::Resolution, Duration::Handling, Duration::Waiting]));
            c
        }
        Report::Topics => {
            let mut c = vec![ResolvedAt, Abandoned];
            c.extend(durations(&[Duration::FirstResponse, Duration::Resolution]));
            c
        }
        Report::Agents => {
            let mut c = vec![CaseId, ResolvedAt, AgentReplies, Notes];
            c.extend(durations(&[Duration::FirstResponse, Duration::Resolution, Duration::Handling]));
            c
        }
        Report::Sla | Report::Satisfaction => vec![CaseId],
        Report::Bot => vec![CaseId, StartedInBot, HandoffAt, BotContained],
    });
    let mut seen = vec![];
    columns.retain(|c| {
        let first = !seen.contains(&std::mem::discriminant(c));
        seen.push(std::mem::discriminant(c));
        first
    });
    columns
}

/// Puts items (a case's index, and for item reports the item's index and
/// its own value of `target` / `attended_by`) into groups by key.
struct Grouper<'a> {
    facts: &'a [FactRow],
    dims: &'a [Dim],
    tz: chrono_tz::Tz,
}

/// The values a report groups by, each kept once and named by a number:
/// a case costs a few lookups, not a few allocations. 0 is no value.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    values: Vec<String>,
}

impl Interner {
    fn id(&mut self, value: Option<&str>) -> u32 {
        let Some(value) = value else { return 0 };
        if let Some(id) = self.ids.get(value) {
            return *id;
        }
        self.values.push(value.to_owned());
        let id = self.values.len() as u32;
        self.ids.insert(value.to_owned(), id);
        id
    }

    fn value(&self, id: u32) -> Option<String> {
        id.checked_sub(1).map(|i| self.values[i as usize].clone())
    }
}

impl Grouper<'_> {
    fn group(&self, items: impl Iterator<Item = (usize, Option<(usize, String)>)>) -> BTreeMap<Key, Vec<usize>> {
        let mut interner = Interner::default();
        // Period labels by the quarter hour they start in (every zone's
        // offset is a whole number of them): a year of cases needs a few
        // thousand, not one per case.
        let mut periods: HashMap<(i64, u8), u32> = HashMap::new();
        let mut groups: HashMap<[u32; 2], Vec<usize>> = HashMap::new();
        // Without dimensions there is one row of totals, even of nothing.
        if self.dims.is_empty() {
            groups.insert([0, 0], vec![]);
        }
        let mut values: [Vec<u32>; 2] = [vec![], vec![]];
        for (case, item) in items {
            let member = item.as_ref().map_or(case, |(n, _)| *n);
            let own = item.as_ref().map(|(_, v)| v.as_str());
            for (dim, out) in self.dims.iter().zip(values.iter_mut()) {
                out.clear();
                self.values(&self.facts[case], dim, own, &mut interner, &mut periods, out);
            }
            match self.dims.len() {
                0 => groups.entry([0, 0]).or_default().push(member),
                1 => values[0].iter().for_each(|a| groups.entry([*a, 0]).or_default().push(member)),
                _ => {
                    for a in &values[0] {
                        for b in &values[1] {
                            groups.entry([*a, *b]).or_default().push(member);
                        }
                    }
                }
            }
        }
        groups
            .into_iter()
            .map(|(ids, members)| (ids[..self.dims.len()].iter().map(|id| interner.value(*id)).collect(), members))
            .collect()
    }

    /// A case's values of `dim` (several for tags: it counts under each).
    fn values(
        &self,
        row: &FactRow,
        dim: &Dim,
        own: Option<&str>,
        interner: &mut Interner,
        periods: &mut HashMap<(i64, u8), u32>,
        out: &mut Vec<u32>,
    ) {
        let f = &row.facts;
        let mut buf = uuid::Uuid::encode_buffer();
        let mut uuid = |id: Option<uuid::Uuid>| interner.id(id.map(|id| &*id.hyphenated().encode_lower(&mut buf)));
        match dim {
            Dim::Period(p) => {
                let slot = (f.created_at.timestamp().div_euclid(900), *p as u8);
                let id = *periods.entry(slot).or_insert_with(|| interner.id(Some(&p.label(f.created_at, self.tz))));
                out.push(id);
            }
            Dim::Unit => out.push(uuid(Some(f.unit_id))),
            Dim::ChannelInstall => out.push(uuid(f.channel_install_id)),
            Dim::Agent => out.push(uuid(f.agent_id)),
            Dim::Channel => out.push(interner.id(Some(&f.channel))),
            Dim::Priority => out.push(interner.id(Some(&f.priority))),
            Dim::Tag if row.tags.is_empty() => out.push(0),
            Dim::Tag => out.extend(row.tags.iter().map(|t| interner.id(Some(t)))),
            Dim::Field(key) => out.push(interner.id(row.fields.get(key).map(store::report::field_text).as_deref())),
            Dim::Contact(key) => out.push(interner.id(row.contact.get(key).map(store::report::field_text).as_deref())),
            Dim::Target | Dim::AttendedBy => out.push(interner.id(own)),
        }
    }
}

/// Names of the units, agents and channel accounts a report shows, by id.
struct Labels(HashMap<String, String>);

impl Labels {
    async fn load(store: &Store, dims: &[Dim], facts: &[FactRow]) -> store::Result<Labels> {
        let mut names = HashMap::new();
        if dims.contains(&Dim::Unit) {
            for unit in store::unit::list(&store.db).await? {
                names.insert(unit.id.to_string(), unit.name);
            }
        }
        if dims.contains(&Dim::Agent) {
            let agents: std::collections::BTreeSet<uuid::Uuid> =
                facts.iter().filter_map(|f| f.facts.agent_id).collect();
            for id in agents {
                match store::user::get(&store.db, crate::domain::UserId(id)).await {
                    Ok(user) => {
                        names.insert(id.to_string(), user.display_name);
                    }
                    Err(store::Error::NotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if dims.contains(&Dim::ChannelInstall) {
            for install in store::plugin_install::list(&store.db).await? {
                names.insert(install.id.to_string(), install.name);
            }
        }
        Ok(Labels(names))
    }

    fn get(&self, id: &str) -> Option<&String> {
        self.0.get(id)
    }
}

fn int(n: impl Into<i64>) -> serde_json::Value {
    serde_json::Value::from(n.into())
}

/// `part / whole` to four decimals; nothing when `whole` is 0.
fn rate(part: usize, whole: usize) -> serde_json::Value {
    if whole == 0 {
        return serde_json::Value::Null;
    }
    round(part as f64 / whole as f64, 4)
}

fn round(value: f64, decimals: i32) -> serde_json::Value {
    let scale = 10f64.powi(decimals);
    serde_json::Value::from((value * scale).round() / scale)
}

/// The durations measured, each on the calendar and in business time.
#[derive(Clone, Copy)]
enum Duration {
    FirstResponse,
    Assignment,
    HandoffWait,
    Resolution,
    Handling,
    Waiting,
}

impl Duration {
    fn name(self) -> &'static str {
        match self {
            Duration::FirstResponse => "first_response",
            Duration::Assignment => "assignment",
            Duration::HandoffWait => "handoff_wait",
            Duration::Resolution => "resolution",
            Duration::Handling => "handling",
            Duration::Waiting => "waiting",
        }
    }

    /// Calendar and business seconds, when the case has this duration.
    /// Handling and waiting count for cases that ended.
    fn of(self, f: &store::report::Fact) -> Option<(i64, i64)> {
        let both = |c: Option<i64>, b: Option<i64>| Some((c?, b?));
        match self {
            Duration::FirstResponse => both(f.first_response_s, f.first_response_bs),
            Duration::Assignment => both(f.assignment_s, f.assignment_bs),
            Duration::HandoffWait => both(f.handoff_wait_s, f.handoff_wait_bs),
            Duration::Resolution => both(f.resolution_s, f.resolution_bs),
            Duration::Handling => f.resolution_s.map(|_| (f.handling_s, f.handling_bs)),
            Duration::Waiting => f.resolution_s.map(|_| (f.waiting_s, f.waiting_bs)),
        }
    }

    /// The facts [`Duration::of`] reads.
    fn columns_read(self) -> Vec<FactColumn> {
        use FactColumn::*;
        match self {
            Duration::FirstResponse => vec![FirstResponseS, FirstResponseBs],
            Duration::Assignment => vec![AssignmentS, AssignmentBs],
            Duration::HandoffWait => vec![HandoffWaitS, HandoffWaitBs],
            Duration::Resolution => vec![ResolutionS, ResolutionBs],
            Duration::Handling => vec![ResolutionS, HandlingS, HandlingBs],
            Duration::Waiting => vec![ResolutionS, WaitingS, WaitingBs],
        }
    }

    fn columns(self) -> Vec<String> {
        let n = self.name();
        ["count", "mean_s", "median_s", "p90_s", "business_mean_s", "business_median_s", "business_p90_s"]
            .iter()
            .map(|s| format!("{n}_{s}"))
            .collect()
    }

    fn cells(self, facts: &[FactRow], rows: &[usize]) -> Vec<serde_json::Value> {
        let (mut cal, mut bus): (Vec<i64>, Vec<i64>) = rows.iter().filter_map(|i| self.of(&facts[*i].facts)).unzip();
        let (c, b) = (summarise(&mut cal), summarise(&mut bus));
        let secs = |v: Option<f64>| v.map_or(serde_json::Value::Null, |v| int(v.round() as i64));
        vec![int(c.count as i64), secs(c.mean), secs(c.median), secs(c.p90), secs(b.mean), secs(b.median), secs(b.p90)]
    }
}

fn case_columns(report: Report) -> Vec<String> {
    let mut cols: Vec<String> = vec!["cases".into()];
    let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    match report {
        Report::Volume => cols.extend(names(&[
            "ended",
            "reopened",
            "reopen_rate",
            "transferred",
            "transfers",
            "abandoned",
            "abandon_rate",
            "bot_started",
            "bot_contained",
            "containment_rate",
            "agent_replies",
            "notes",
        ])),
        Report::Response => {
            for d in [Duration::FirstResponse, Duration::Assignment, Duration::HandoffWait] {
                cols.extend(d.columns());
            }
        }
        Report::Resolution => {
            cols.extend(names(&["ended", "reopen_rate"]));
            for d in [Duration::Resolution, Duration::Handling, Duration::Waiting] {
                cols.extend(d.columns());
            }
        }
        Report::Topics => {
            cols.extend(names(&["ended", "abandoned"]));
            for d in [Duration::FirstResponse, Duration::Resolution] {
                cols.extend(d.columns());
            }
        }
        _ => {}
    }
    cols
}

fn case_measures(report: Report, facts: &[FactRow], rows: &[usize]) -> Vec<serde_json::Value> {
    let count = |pred: &dyn Fn(&store::report::Fact) -> bool| rows.iter().filter(|i| pred(&facts[**i].facts)).count();
    let sum =
        |get: &dyn Fn(&store::report::Fact) -> i32| rows.iter().map(|i| i64::from(get(&facts[*i].facts))).sum::<i64>();
    let n = rows.len();
    let ended = count(&|f| f.ended);
    let reopened = count(&|f| f.reopens > 0);
    let abandoned = count(&|f| f.abandoned);
    let mut cells = vec![int(n as i64)];
    match report {
        Report::Volume => {
            let bot = count(&|f| f.started_in_bot);
            let contained = count(&|f| f.bot_contained);
            cells.extend([
                int(ended as i64),
                int(reopened as i64),
                rate(reopened, ended),
                int(count(&|f| f.transfers > 0) as i64),
                int(sum(&|f| f.transfers)),
                int(abandoned as i64),
                rate(abandoned, ended),
                int(bot as i64),
                int(contained as i64),
                rate(contained, bot),
                int(sum(&|f| f.agent_replies)),
                int(sum(&|f| f.notes)),
            ]);
        }
        Report::Response => {
            for d in [Duration::FirstResponse, Duration::Assignment, Duration::HandoffWait] {
                cells.extend(d.cells(facts, rows));
            }
        }
        Report::Resolution => {
            cells.extend([int(ended as i64), rate(reopened, ended)]);
            for d in [Duration::Resolution, Duration::Handling, Duration::Waiting] {
                cells.extend(d.cells(facts, rows));
            }
        }
        Report::Topics => {
            cells.extend([int(ended as i64), int(abandoned as i64)]);
            for d in [Duration::FirstResponse, Duration::Resolution] {
                cells.extend(d.cells(facts, rows));
            }
        }
        _ => {}
    }
    cells
}

fn agent_columns() -> Vec<String> {
    let mut cols: Vec<String> = ["cases", "ended", "agent_replies", "notes", "surveys_answered", "satisfaction_mean"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for d in [Duration::FirstResponse, Duration::Resolution, Duration::Handling] {
        cols.extend(d.columns());
    }
    cols
}

fn agent_measures(facts: &[FactRow], rows: &[usize], scores: &HashMap<usize, i16>) -> Vec<serde_json::Value> {
    let ended = rows.iter().filter(|i| facts[**i].facts.ended).count();
    let replies: i64 = rows.iter().map(|i| i64::from(facts[*i].facts.agent_replies)).sum();
    let notes: i64 = rows.iter().map(|i| i64::from(facts[*i].facts.notes)).sum();
    let mut answered: Vec<i64> = rows.iter().filter_map(|i| scores.get(i).map(|s| i64::from(*s))).collect();
    let mean = mean_of(&mut answered);
    let mut cells =
        vec![int(rows.len() as i64), int(ended as i64), int(replies), int(notes), int(answered.len() as i64), mean];
    for d in [Duration::FirstResponse, Duration::Resolution, Duration::Handling] {
        cells.extend(d.cells(facts, rows));
    }
    cells
}

fn mean_of(values: &mut [i64]) -> serde_json::Value {
    let Summary { mean, .. } = summarise(values);
    mean.map_or(serde_json::Value::Null, |m| round(m, 2))
}

fn sla_columns() -> Vec<String> {
    ["targets", "met", "breached", "warning", "running", "paused", "met_rate"].iter().map(|s| (*s).to_owned()).collect()
}

fn sla_measures<'a>(states: impl Iterator<Item = &'a str>) -> Vec<serde_json::Value> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut total = 0;
    for state in states {
        *counts.entry(state).or_default() += 1;
        total += 1;
    }
    let c = |s: &str| counts.get(s).copied().unwrap_or(0);
    let settled = c("met") + c("breached");
    vec![
        int(total as i64),
        int(c("met") as i64),
        int(c("breached") as i64),
        int(c("warning") as i64),
        int(c("running") as i64),
        int(c("paused") as i64),
        rate(c("met"), settled),
    ]
}

fn satisfaction_columns() -> Vec<String> {
    ["sent", "answered", "response_rate", "mean", "score_1", "score_2", "score_3", "score_4", "score_5"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

fn satisfaction_measures(scores: impl Iterator<Item = Option<i16>>) -> Vec<serde_json::Value> {
    let mut sent = 0;
    let mut answered: Vec<i64> = vec![];
    let mut spread = [0i64; 5];
    for score in scores {
        sent += 1;
        if let Some(s) = score.filter(|s| (1..=5).contains(s)) {
            answered.push(i64::from(s));
            spread[(s - 1) as usize] += 1;
        }
    }
    let n = answered.len();
    let mut cells = vec![int(sent as i64), int(n as i64), rate(n, sent), mean_of(&mut answered)];
    cells.extend(spread.map(int));
    cells
}

fn bot_columns() -> Vec<String> {
    [
        "bot_started",
        "handed_off",
        "contained",
        "containment_rate",
        "answered",
        "confirmed",
        "unanswered",
        "confidence_mean",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

fn bot_measures(
    facts: &[FactRow],
    rows: &[usize],
    outcomes: &HashMap<usize, (String, Option<f32>)>,
) -> Vec<serde_json::Value> {
    let handed = rows.iter().filter(|i| facts[**i].facts.handed_off).count();
    let contained = rows.iter().filter(|i| facts[**i].facts.bot_contained).count();
    let outcome = |name: &str| rows.iter().filter(|i| outcomes.get(i).is_some_and(|(o, _)| o == name)).count();
    let confidences: Vec<f64> =
        rows.iter().filter_map(|i| outcomes.get(i).and_then(|(_, c)| *c)).map(f64::from).collect();
    let confidence = if confidences.is_empty() {
        serde_json::Value::Null
    } else {
        round(confidences.iter().sum::<f64>() / confidences.len() as f64, 4)
    };
    vec![
        int(rows.len() as i64),
        int(handed as i64),
        int(contained as i64),
        rate(contained, rows.len()),
        int(outcome("answered") as i64),
        int(outcome("confirmed") as i64),
        int(outcome("unanswered") as i64),
        confidence,
    ]
}

/// A table as CSV: cells that a spreadsheet would run as a formula are
/// written as text (see `crate::spreadsheet`).
pub fn to_csv(table: &Table, safe: impl Fn(&str) -> String) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(vec![]);
    // Writing to memory cannot fail.
    let _ = writer.write_record(table.columns.iter().map(|c| safe(c)));
    for row in &table.rows {
        let _ = writer.write_record(row.iter().map(|cell| match cell {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => safe(s),
            other => other.to_string(),
        }));
    }
    writer.into_inner().unwrap_or_default()
}

/// The scope of what a caller sees in reports: admins and `cases:read`
/// tokens everything; a supervisor their units; an agent their own cases.
pub fn scope_of(principal: &crate::domain::Principal) -> ReportScope {
    use crate::domain::{Principal, Role};
    match principal {
        Principal::User { is_admin: true, .. } => ReportScope::default(),
        Principal::User { id, memberships, .. } => {
            let of =
                |role: Role| memberships.iter().filter(|m| m.role == role).map(|m| m.unit_id).collect::<Vec<UnitId>>();
            ReportScope { units: Some(of(Role::Supervisor)), own: Some((*id, of(Role::Agent))) }
        }
        Principal::Token { .. } if principal.token_has(crate::domain::Scope::CasesRead) => ReportScope::default(),
        Principal::Token { .. } => ReportScope { units: Some(vec![]), own: None },
    }
}
