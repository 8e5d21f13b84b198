//! The authorization matrix: for every endpoint, who may call it. The test
//! walks the whole table, then checks that nothing of one unit leaks to an
//! agent of another through lists and searches.

use reqwest::Method;
use serde_json::{Value, json};
use ventanilla_tests::{FakeProvider, TestApp, on_both, spawn_app, spawn_app_with};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Admin,
    SupervisorA,
    AgentA,
    AgentB,
    TokenWith,
    TokenWithout,
    Anonymous,
    /// A web-chat visitor's token: it reaches its own conversation only.
    Visitor,
}

use Who::*;

const EVERYONE: [Who; 8] = [Admin, SupervisorA, AgentA, AgentB, TokenWith, TokenWithout, Anonymous, Visitor];
const STAFF: &[Who] = &[Admin, SupervisorA, AgentA, AgentB];
const UNIT_A: &[Who] = &[Admin, SupervisorA, AgentA, TokenWith];

struct Fixture {
    unit_a: String,
    unit_b: String,
    admin: String,
    case_a: String,
    contact_a: String,
    agent_a: String,
    /// A data-subject request about `contact_a`, answered by unit A.
    request_a: String,
    spare_token: String,
    /// Contacts with a case in unit A, one per merge attempt.
    merge_sources: Vec<String>,
    /// More contacts known only to unit A, one per caller.
    unit_a_contacts: Vec<String>,
    tokens: Vec<(Who, Option<String>)>,
    /// A segment of unit A.
    segment_a: String,
    /// Segments of unit A, one per caller, for the rows that remove one.
    segments_a: Vec<String>,
    /// An SMS account open to unit A.
    sms_a: String,
    /// A draft campaign of unit A, and one per caller.
    campaign_a: String,
    campaigns_a: Vec<String>,
    /// A WhatsApp account open to unit A, whose templates `provider` lists.
    whatsapp_a: String,
    _provider: FakeProvider,
}

/// Stands in a path for the caller's own segment of unit A.
const PER_CALLER_SEGMENT: &str = "{segment-of-the-caller}";
/// Stands in a path for the caller's own draft campaign of unit A.
const PER_CALLER_CAMPAIGN: &str = "{campaign-of-the-caller}";

struct Row {
    method: Method,
    path: fn(&Fixture) -> String,
    body: fn(&Fixture, usize) -> Option<Value>,
    /// The scope given to `TokenWith` for this row.
    scope: &'static str,
    allowed: &'static [Who],
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

fn rows() -> Vec<Row> {
    let none = |_: &Fixture, _| None;
    vec![
        Row {
            method: Method::GET,
            path: |_| "/api/v1/auth/me".into(),
            body: none,
            scope: "cases:read",
            allowed: STAFF,
        },
        // How people sign in (the providers' buttons): public.
        Row {
            method: Method::GET,
            path: |_| "/api/v1/auth/providers".into(),
            body: none,
            scope: "cases:read",
            allowed: &EVERYONE,
        },
        // The directories and reading one now: admins only.
        Row {
            method: Method::GET,
            path: |_| "/api/v1/directories".into(),
            body: none,
            scope: "users:read",
            allowed: &[Admin],
        },
        // Reading a directory now: admins only.
        Row {
            method: Method::POST,
            path: |_| "/api/v1/directories/uni-ldap/sync".into(),
            body: |_, _| Some(json!({})),
            scope: "users:write",
            allowed: &[Admin],
        },
        // One's own second factor and sessions: every signed-in person, no API token.
        Row {
            method: Method::GET,
            path: |_| "/api/v1/auth/two-factor".into(),
            body: none,
            scope: "users:write",
            allowed: STAFF,
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/auth/two-factor".into(),
            body: |_, n| {
                let password =
                    if EVERYONE[n] == Admin { ventanilla_tests::ADMIN_PASSWORD } else { ventanilla_tests::PASSWORD };
                Some(json!({"password": password}))
            },
            scope: "users:write",
            allowed: STAFF,
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/auth/sessions".into(),
            body: none,
            scope: "users:write",
            allowed: STAFF,
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/auth/sessions/end".into(),
            body: |_, _| Some(json!({"keep_current": true})),
            scope: "users:write",
            allowed: STAFF,
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/units".into(),
            body: none,
            scope: "units:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/units".into(),
            body: |_, _| Some(json!({"slug": format!("u-{}", unique()), "name": "Nueva"})),
            scope: "units:write",
            allowed: &[Admin, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/units/{}", f.unit_a),
            body: none,
            scope: "units:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::PATCH,
            path: |f| format!("/api/v1/units/{}", f.unit_a),
            body: |_, _| Some(json!({"name": "Admisiones"})),
            scope: "units:write",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/users".into(),
            body: none,
            scope: "users:read",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/users".into(),
            body: |_, _| {
                Some(
                    json!({"email": format!("{}@test.example", unique()), "display_name": "N", "password": "una clave larga"}),
                )
            },
            scope: "users:write",
            allowed: &[Admin, TokenWith],
        },
        // Admin-only fields: a `users:write` token manages other accounts,
        // never admins and never the admin role.
        Row {
            method: Method::POST,
            path: |_| "/api/v1/users".into(),
            body: |_, _| {
                Some(json!({"email": format!("{}@test.example", unique()), "display_name": "N",
                    "password": "una clave larga", "is_admin": true}))
            },
            scope: "users:write",
            allowed: &[Admin],
        },
        Row {
            method: Method::PATCH,
            path: |f| format!("/api/v1/users/{}", f.agent_a),
            body: |_, _| Some(json!({"is_admin": false})),
            scope: "users:write",
            allowed: &[Admin, TokenWith],
        },
        Row {
            method: Method::PATCH,
            path: |f| format!("/api/v1/users/{}", f.admin),
            body: |_, _| Some(json!({"display_name": "Admin"})),
            scope: "users:write",
            allowed: &[Admin],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/users/{}", f.agent_a),
            body: none,
            scope: "users:read",
            allowed: &[Admin, SupervisorA, AgentA, TokenWith],
        },
        Row {
            method: Method::PATCH,
            path: |f| format!("/api/v1/users/{}", f.agent_a),
            body: |_, _| Some(json!({"display_name": "Agente A"})),
            scope: "users:write",
            allowed: &[Admin, AgentA, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/contacts".into(),
            body: none,
            scope: "contacts:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/contacts".into(),
            body: |_, _| Some(json!({"name": "Nuevo contacto"})),
            scope: "contacts:write",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/contacts/{}", f.contact_a),
            body: none,
            scope: "contacts:read",
            allowed: UNIT_A,
        },
        Row {
            method: Method::PATCH,
            path: |f| format!("/api/v1/contacts/{}", f.contact_a),
            body: |_, _| Some(json!({"custom_attributes": {"programa": "Derecho"}})),
            scope: "contacts:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/contacts/{}/consents", f.contact_a),
            body: none,
            scope: "contacts:read",
            allowed: UNIT_A,
        },
        Row {
            method: Method::POST,
            path: |f| format!("/api/v1/contacts/{}/consents", f.contact_a),
            body: |_, _| {
                Some(
                    json!({"purpose": "data_processing", "action": "grant", "text_version": "v1", "channel": "whatsapp"}),
                )
            },
            scope: "contacts:write",
            allowed: UNIT_A,
        },
        // Audiences: read like the contact; written by admins and tokens only,
        // since an upsert finds people across every unit.
        Row {
            method: Method::GET,
            path: |_| "/api/v1/contacts/external/persona-a".into(),
            body: none,
            scope: "contacts:read",
            allowed: UNIT_A,
        },
        Row {
            method: Method::PUT,
            path: |_| format!("/api/v1/contacts/external/{}", unique()),
            body: |_, _| Some(json!({"custom_attributes": {"programa": "Derecho"}})),
            scope: "contacts:write",
            allowed: &[Admin, TokenWith],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/contacts/import".into(),
            body: |_, _| Some(json!([{"external_id": unique(), "programa": "Derecho"}])),
            scope: "contacts:write",
            allowed: &[Admin, TokenWith],
        },
        // Segments: a unit's kept by its supervisors, read by them; the
        // institution's by admins and tokens.
        Row {
            method: Method::GET,
            path: |_| "/api/v1/segments".into(),
            body: none,
            scope: "contacts:read",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/segments".into(),
            body: |f, n| {
                Some(json!({"unit_id": f.unit_a, "name": format!("Medicina {n}"),
                "filter": {"attributes": [{"key": "programa", "in": ["Medicina"]}]}}))
            },
            scope: "contacts:write",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/segments".into(),
            body: |_, n| Some(json!({"name": format!("Todos {n}")})),
            scope: "contacts:write",
            allowed: &[Admin, TokenWith],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/segments/preview".into(),
            body: |f, _| Some(json!({"unit_id": f.unit_a, "filter": {"channels": ["email"]}})),
            scope: "contacts:read",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/segments/{}", f.segment_a),
            body: none,
            scope: "contacts:read",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/segments/{}/members", f.segment_a),
            body: none,
            scope: "contacts:read",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::PATCH,
            path: |f| format!("/api/v1/segments/{}", f.segment_a),
            body: |_, _| Some(json!({"description": "Para la convocatoria"})),
            scope: "contacts:write",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::DELETE,
            path: |_| format!("/api/v1/segments/{PER_CALLER_SEGMENT}"),
            body: none,
            scope: "contacts:write",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        // Campaigns: the unit's supervisors and admins; never a token.
        Row {
            method: Method::GET,
            path: |_| "/api/v1/campaigns".into(),
            body: none,
            scope: "contacts:read",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/campaigns".into(),
            body: |f, n| {
                Some(json!({"unit_id": f.unit_a, "name": format!("Aviso {n}"), "segment_id": f.segment_a,
                "channel_install_id": f.sms_a, "message": {"body": "Hola {{name}}"}}))
            },
            scope: "contacts:write",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/campaigns/{}", f.campaign_a),
            body: none,
            scope: "contacts:read",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::PATCH,
            path: |f| format!("/api/v1/campaigns/{}", f.campaign_a),
            body: |_, n| Some(json!({"name": format!("Aviso {n}")})),
            scope: "contacts:write",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/campaigns/{}/recipients", f.campaign_a),
            body: none,
            scope: "contacts:read",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::POST,
            path: |_| format!("/api/v1/campaigns/{PER_CALLER_CAMPAIGN}/cancel"),
            body: none,
            scope: "contacts:write",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/units/{}/outreach", f.unit_a),
            body: none,
            scope: "units:read",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::PUT,
            path: |f| format!("/api/v1/units/{}/outreach", f.unit_a),
            body: |_, _| Some(json!({"sending_hours": null})),
            scope: "units:write",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::POST,
            path: |f| format!("/api/v1/contacts/{}/requests", f.contact_a),
            body: |f, _| Some(json!({"kind": "rectification", "details": "Mi apellido es Gómez", "unit_id": f.unit_a})),
            scope: "contacts:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/contacts/{}/requests", f.contact_a),
            body: none,
            scope: "contacts:read",
            allowed: UNIT_A,
        },
        // Event subscriptions carry every unit's cases out: admins only.
        Row {
            method: Method::GET,
            path: |_| "/api/v1/webhook-subscriptions".into(),
            body: none,
            scope: "cases:read",
            allowed: &[Admin],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/webhook-subscriptions".into(),
            body: |_, _| {
                Some(json!({"name": "CRM", "url": "https://crm.example.org/hook", "events": ["case.created"]}))
            },
            scope: "cases:write",
            allowed: &[Admin],
        },
        // Reports: staff see their own figures (empty for another unit's
        // agent, never an error that tells anything exists), tokens need cases:read.
        Row {
            method: Method::GET,
            path: |_| "/api/v1/reports/volume?group_by=unit".into(),
            body: none,
            scope: "cases:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        // Scheduled reports are a staff member's own, sent with their figures.
        Row {
            method: Method::GET,
            path: |_| "/api/v1/report-schedules".into(),
            body: none,
            scope: "cases:read",
            allowed: STAFF,
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/report-schedules".into(),
            body: |_, _| Some(json!({"name": "Semanal", "report": "volume", "frequency": "weekly"})),
            scope: "cases:read",
            allowed: STAFF,
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/wallboard".into(),
            body: none,
            scope: "cases:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/reports/agents?unit_id={}&format=csv", f.unit_a),
            body: none,
            scope: "cases:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/data-requests".into(),
            body: none,
            scope: "contacts:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/data-requests/{}", f.request_a),
            body: none,
            scope: "contacts:read",
            allowed: UNIT_A,
        },
        Row {
            method: Method::PUT,
            path: |f| format!("/api/v1/cases/{}/legal-hold", f.case_a),
            body: |_, _| Some(json!({"reason": "Proceso judicial"})),
            scope: "cases:write",
            allowed: &[Admin],
        },
        Row {
            method: Method::DELETE,
            path: |f| format!("/api/v1/contacts/{}/legal-hold", f.contact_a),
            body: none,
            scope: "contacts:write",
            allowed: &[Admin],
        },
        Row {
            method: Method::POST,
            path: |f| format!("/api/v1/data-requests/{}/export", f.request_a),
            body: |_, _| Some(json!({})),
            scope: "contacts:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::POST,
            path: |f| format!("/api/v1/contacts/{}/identities", f.contact_a),
            body: |_, _| Some(json!({"channel": "email", "value": format!("{}@correo.test", unique())})),
            scope: "contacts:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::POST,
            path: |f| format!("/api/v1/contacts/{}/merge", f.contact_a),
            body: |f, n| Some(json!({"source_contact_id": f.merge_sources[n]})),
            scope: "contacts:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/cases".into(),
            body: none,
            scope: "cases:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/cases".into(),
            body: |f, _| {
                Some(json!({"subject": "Nuevo", "channel": "email", "unit_id": f.unit_a, "contact_id": f.contact_a}))
            },
            scope: "cases:write",
            allowed: UNIT_A,
        },
        // A case in one's own unit for another unit's contact: the contact
        // is not found, so it is neither linked nor revealed.
        Row {
            method: Method::POST,
            path: |_| "/api/v1/cases".into(),
            // Each caller names a contact of its own, so one caller's success
            // (which gives the contact a case in unit B) shows nothing to the next.
            body: |f, n| {
                Some(
                    json!({"subject": "Ajeno", "channel": "email", "unit_id": f.unit_b, "contact_id": f.unit_a_contacts[n]}),
                )
            },
            scope: "cases:write",
            allowed: &[Admin, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/cases/{}", f.case_a),
            body: none,
            scope: "cases:read",
            allowed: UNIT_A,
        },
        Row {
            method: Method::PATCH,
            path: |f| format!("/api/v1/cases/{}", f.case_a),
            body: |_, _| Some(json!({"priority": "high"})),
            scope: "cases:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/cases/{}/messages", f.case_a),
            body: none,
            scope: "cases:read",
            allowed: UNIT_A,
        },
        Row {
            method: Method::POST,
            path: |f| format!("/api/v1/cases/{}/messages", f.case_a),
            body: |_, _| Some(json!({"body": "Respuesta"})),
            scope: "cases:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/canned-responses".into(),
            body: none,
            scope: "cases:read",
            allowed: STAFF,
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/canned-responses".into(),
            body: |_, n| Some(json!({"shortcut": format!("mia-{n}"), "title": "Mía", "body": "Hola"})),
            scope: "cases:write",
            allowed: STAFF,
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/canned-responses".into(),
            body: |f, n| {
                Some(
                    json!({"unit_id": f.unit_a, "shortcut": format!("unidad-{n}"), "title": "De la unidad", "body": "Hola"}),
                )
            },
            scope: "cases:write",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/units/{}/protocols", f.unit_a),
            body: none,
            scope: "units:write",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/saved-views".into(),
            body: none,
            scope: "cases:read",
            allowed: STAFF,
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/saved-views".into(),
            body: |_, n| Some(json!({"name": format!("Mía {n}"), "filters": {"assignee_id": "me"}})),
            scope: "cases:write",
            allowed: STAFF,
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/saved-views".into(),
            body: |f, n| {
                Some(
                    json!({"unit_id": f.unit_a, "name": format!("De la unidad {n}"), "filters": {"priority": "urgent"}}),
                )
            },
            scope: "cases:write",
            allowed: &[Admin, SupervisorA],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/agents".into(),
            body: none,
            scope: "units:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/agents?unit_id={}", f.unit_a),
            body: none,
            scope: "units:read",
            allowed: &[Admin, SupervisorA, AgentA, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/agents/me".into(),
            body: none,
            scope: "cases:read",
            allowed: STAFF,
        },
        Row {
            method: Method::PUT,
            path: |_| "/api/v1/agents/me/presence".into(),
            body: |_, _| Some(json!({"presence": "away"})),
            scope: "cases:write",
            allowed: STAFF,
        },
        Row {
            method: Method::PATCH,
            path: |f| format!("/api/v1/agents/{}", f.agent_a),
            body: |_, _| Some(json!({"capacity": {"default": 3}})),
            scope: "units:write",
            allowed: &[Admin, SupervisorA, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/cases/{}/notes", f.case_a),
            body: none,
            scope: "cases:read",
            allowed: UNIT_A,
        },
        Row {
            method: Method::POST,
            path: |f| format!("/api/v1/cases/{}/notes", f.case_a),
            body: |_, _| Some(json!({"body": "Nota interna"})),
            scope: "cases:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::POST,
            path: |f| format!("/api/v1/cases/{}/tags", f.case_a),
            body: |_, _| Some(json!({"tag": "matrícula"})),
            scope: "cases:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/tags".into(),
            body: none,
            scope: "cases:read",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/channel-accounts".into(),
            body: none,
            scope: "cases:write",
            allowed: &[Admin, SupervisorA, AgentA, AgentB, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |f| format!("/api/v1/channel-accounts/{}/templates", f.whatsapp_a),
            body: none,
            scope: "cases:write",
            allowed: UNIT_A,
        },
        Row {
            method: Method::POST,
            path: |f| format!("/api/v1/channel-accounts/{}/templates/sync", f.whatsapp_a),
            body: none,
            scope: "cases:write",
            allowed: &[Admin],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/api-tokens".into(),
            body: none,
            scope: "users:write",
            allowed: &[Admin],
        },
        Row {
            method: Method::POST,
            path: |_| "/api/v1/api-tokens".into(),
            body: |_, _| Some(json!({"name": "x", "scopes": ["cases:read"]})),
            scope: "users:write",
            allowed: &[Admin],
        },
        Row {
            method: Method::DELETE,
            path: |f| format!("/api/v1/api-tokens/{}", f.spare_token),
            body: none,
            scope: "users:write",
            allowed: &[Admin],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/audit-events".into(),
            body: none,
            scope: "audit:read",
            allowed: &[Admin, TokenWith],
        },
        Row {
            method: Method::GET,
            path: |_| "/api/v1/audit-events/export?action=auth.".into(),
            body: none,
            scope: "audit:read",
            allowed: &[Admin, TokenWith],
        },
    ]
}

async fn fixture(app: &TestApp, provider: FakeProvider) -> anyhow::Result<Fixture> {
    let unit_a = app.create_unit("unidad-a").await?;
    let unit_b = app.create_unit("unidad-b").await?;
    let admin = app.get("/api/v1/auth/me", &app.admin_token).await?.body["id"].as_str().unwrap_or_default().to_owned();
    let visitor = app
        .client
        .post(app.url("/api/v1/webchat/sessions"))
        .json(&json!({"unit": "unidad-a"}))
        .send()
        .await?
        .json::<Value>()
        .await?["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, supervisor) = app.create_member("sup.a@test.example", &unit_a, "supervisor").await?;
    let (agent_a, agent_a_token) = app.create_member("agente.a@test.example", &unit_a, "agent").await?;
    let (_, agent_b) = app.create_member("agente.b@test.example", &unit_b, "agent").await?;
    let case = app.create_case(&app.admin_token, &unit_a, "Secreto de la unidad A").await?;
    let case_a = case["id"].as_str().unwrap_or_default().to_owned();
    let contact_a = case["contact_id"].as_str().unwrap_or_default().to_owned();
    app.post_ok(&format!("/api/v1/cases/{case_a}/notes"), &app.admin_token, json!({"body": "nota de A"}), 201).await?;
    // The institution's id for the person of unit A's case.
    let address = json!({"channel": "email", "value": "persona.a@test.example"});
    app.post_ok(&format!("/api/v1/contacts/{contact_a}/identities"), &app.admin_token, address.clone(), 201).await?;
    let adopted = app
        .call(
            Method::PUT,
            "/api/v1/contacts/external/persona-a",
            Some(&app.admin_token),
            Some(&json!({"identities": [address]})),
        )
        .await?;
    anyhow::ensure!(adopted.body["contact"]["id"] == contact_a.as_str(), "{}", adopted.text);
    let spare = app
        .post_ok("/api/v1/api-tokens", &app.admin_token, json!({"name": "spare", "scopes": ["kb:read"]}), 201)
        .await?;
    let request = app
        .post_ok(
            &format!("/api/v1/contacts/{contact_a}/requests"),
            &app.admin_token,
            json!({"kind": "access", "unit_id": unit_a}),
            201,
        )
        .await?;
    let (mut merge_sources, mut unit_a_contacts) = (vec![], vec![]);
    for _ in EVERYONE {
        let case = app.create_case(&app.admin_token, &unit_a, "Para fusionar").await?;
        merge_sources.push(case["contact_id"].as_str().unwrap_or_default().to_owned());
        let case = app.create_case(&app.admin_token, &unit_a, "De la unidad A").await?;
        unit_a_contacts.push(case["contact_id"].as_str().unwrap_or_default().to_owned());
    }
    let segment = |n: usize| json!({"unit_id": unit_a, "name": format!("Segmento {n}")});
    let segment_a = app.post_ok("/api/v1/segments", &app.admin_token, segment(0), 201).await?.id();
    let mut segments_a = vec![];
    for n in 0..EVERYONE.len() {
        segments_a.push(app.post_ok("/api/v1/segments", &app.admin_token, segment(n + 1), 201).await?.id());
    }
    let settings = json!({"account_sid": "AC0123456789abcdef0123456789abcdef", "from": "+15005550006",
        "webhook_url": "https://ventanilla.example.edu/api/v1/webhooks/sms"});
    let grants = json!({"http_hosts": ["api.twilio.com"], "secrets": ["auth_token"]});
    let sms_a = ventanilla_tests::install_plugin_with(app, "sms-twilio", settings, grants, &[unit_a.as_str()], |m| m)
        .await?
        .id();
    ventanilla_tests::set_secret(app, &sms_a, "auth_token", "twilio-auth-token").await?;
    let campaign = |n: usize| {
        json!({"unit_id": unit_a, "name": format!("Campaña {n}"), "segment_id": segment_a,
        "channel_install_id": sms_a, "message": {"body": "Hola"}})
    };
    let campaign_a = app.post_ok("/api/v1/campaigns", &app.admin_token, campaign(0), 201).await?.id();
    let mut campaigns_a = vec![];
    for n in 0..EVERYONE.len() {
        campaigns_a.push(app.post_ok("/api/v1/campaigns", &app.admin_token, campaign(n + 1), 201).await?.id());
    }
    provider.on_get("/message_templates", json!({"data": [], "paging": {"cursors": {}}}));
    let settings = json!({"phone_number_id": "1065", "business_account_id": "1022",
        "api_base_url": format!("http://localhost:{}", provider.port)});
    let grants = json!({"http_hosts": ["localhost"], "secrets": ["access_token"]});
    let whatsapp_a =
        ventanilla_tests::install_plugin_with(app, "whatsapp-cloud", settings, grants, &[unit_a.as_str()], |m| {
            m.replace(r#"http_hosts = ["#, r#"http_hosts = ["localhost", "#)
        })
        .await?
        .id();
    ventanilla_tests::set_secret(app, &whatsapp_a, "access_token", "EAAG-token").await?;
    let tokens = vec![
        (Admin, Some(app.admin_token.clone())),
        (SupervisorA, Some(supervisor)),
        (AgentA, Some(agent_a_token)),
        (AgentB, Some(agent_b)),
        (TokenWithout, Some(app.create_token(&["kb:read"]).await?)),
        (Anonymous, None),
        (Visitor, Some(visitor)),
    ];
    Ok(Fixture {
        unit_a,
        unit_b,
        admin,
        case_a,
        contact_a,
        agent_a,
        request_a: request.id(),
        spare_token: spare.id(),
        merge_sources,
        unit_a_contacts,
        tokens,
        segment_a,
        segments_a,
        sms_a,
        campaign_a,
        campaigns_a,
        whatsapp_a,
        _provider: provider,
    })
}

trait IdOf {
    fn id(&self) -> String;
}

impl IdOf for Value {
    fn id(&self) -> String {
        self["id"].as_str().unwrap_or_default().to_owned()
    }
}

on_both! {
    async fn matrix(backend) {
        let provider = FakeProvider::start().await?;
        let port = provider.port;
        let directory = ventanilla_tests::ldap::Slapd::start().await?;
        let app = spawn_app_with(backend, |c| {
            c.plugins.private_hosts = vec![format!("localhost:{port}")];
            c.auth.ldap = vec![directory.config("uni-ldap", vec![])];
        })
        .await?;
        let f = fixture(&app, provider).await?;
        let mut failures = vec![];
        for row in rows() {
            let scoped = app.create_token(&[row.scope]).await?;
            for (n, who) in EVERYONE.iter().enumerate() {
                let token = match who {
                    TokenWith => Some(scoped.clone()),
                    other => f.tokens.iter().find(|(w, _)| w == other).and_then(|(_, t)| t.clone()),
                };
                let path = (row.path)(&f)
                    .replace(PER_CALLER_SEGMENT, &f.segments_a[n])
                    .replace(PER_CALLER_CAMPAIGN, &f.campaigns_a[n]);
                let body = (row.body)(&f, n);
                let reply = app.call(row.method.clone(), &path, token.as_deref(), body.as_ref()).await?;
                let status = reply.status.as_u16();
                let allowed = row.allowed.contains(who);
                let names_unit_a = |text: &str| {
                    text.contains(&f.case_a)
                        || text.contains(&f.contact_a)
                        || f.unit_a_contacts.iter().any(|c| text.contains(c.as_str()))
                };
                let in_body = body.as_ref().is_some_and(|b| names_unit_a(&b.to_string()));
                let ok = match (allowed, who) {
                    (true, _) => (200..300).contains(&status),
                    // A visitor's token is no staff credential anywhere.
                    (false, Anonymous | Visitor) => status == 401,
                    // Another unit's agent must not learn the resource exists.
                    (false, AgentB) if names_unit_a(&path) => status == 404,
                    // Named in the body: refused (for the unit) or not found (the contact).
                    (false, AgentB) if in_body => status == 403 || status == 404,
                    (false, _) => status == 403 || status == 404,
                };
                if !ok {
                    failures.push(format!("{:?} {} as {:?}: got {} {}", row.method, path, who, status, reply.text));
                }
                if reply.status.is_client_error() && !reply.text.is_empty() {
                    anyhow::ensure!(
                        reply.headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json")),
                        "{path}: errors are problem+json"
                    );
                }
            }
        }
        anyhow::ensure!(failures.is_empty(), "authorization matrix failures:\n{}", failures.join("\n"));
        Ok(())
    }

    async fn no_token_scope_reaches_admin_only_powers(backend) {
        let app = spawn_app(backend).await?;
        let unit = app.create_unit("unidad-a").await?;
        let (agent, _) = app.create_member("agente.a@test.example", &unit, "agent").await?;
        let admin = app.get("/api/v1/auth/me", &app.admin_token).await?.body["id"].as_str().unwrap_or_default().to_owned();
        let every: Vec<&str> = ventanilla::domain::Scope::ALL.iter().map(|s| s.as_str()).collect();
        let mut tokens = vec![];
        for scope in &every {
            tokens.push((scope.to_string(), app.create_token(&[scope]).await?));
        }
        tokens.push(("all scopes".into(), app.create_token(&every).await?));
        let held = app.create_case(&app.admin_token, &unit, "Bajo custodia").await?;
        let (case, contact) = (held["id"].as_str().unwrap_or_default(), held["contact_id"].as_str().unwrap_or_default());
        let admin_only: Vec<(Method, String, Value)> = vec![
            (Method::POST, "/api/v1/users".into(), json!({"email": "otro.admin@test.example", "display_name": "X", "password": "una clave larga", "is_admin": true})),
            (Method::PATCH, format!("/api/v1/users/{agent}"), json!({"is_admin": true})),
            (Method::PATCH, format!("/api/v1/users/{admin}"), json!({"password": "la clave de otro"})),
            (Method::PATCH, format!("/api/v1/users/{admin}"), json!({"active": false})),
            (Method::POST, "/api/v1/api-tokens".into(), json!({"name": "x", "scopes": ["cases:read"]})),
            (Method::POST, "/api/v1/plugin-installs".into(), json!({"plugin_id": "faq-bot", "name": "x"})),
            (Method::POST, "/api/v1/consent-texts".into(), json!({"purpose": "data_processing", "locale": "es", "text": "Autorizo."})),
            (Method::PUT, format!("/api/v1/cases/{case}/legal-hold"), json!({"reason": "x"})),
            (Method::DELETE, format!("/api/v1/cases/{case}/legal-hold"), json!({})),
            (Method::PUT, format!("/api/v1/contacts/{contact}/legal-hold"), json!({"reason": "x"})),
            (Method::DELETE, format!("/api/v1/contacts/{contact}/legal-hold"), json!({})),
            (Method::POST, "/api/v1/webhook-subscriptions".into(), json!({"name": "x", "url": "https://crm.example.org/", "events": ["case.created"]})),
            (Method::GET, "/api/v1/webhook-subscriptions".into(), json!({})),
        ];
        let mut failures = vec![];
        for (scope, token) in &tokens {
            for (method, path, body) in &admin_only {
                let reply = app.call(method.clone(), path, Some(token), Some(body)).await?;
                // Refused; a token that may not even see the account is told it is not there.
                if reply.status != 403 && reply.status != 404 {
                    failures.push(format!("{scope}: {method} {path} {body}: {} {}", reply.status, reply.text));
                }
            }
        }
        anyhow::ensure!(failures.is_empty(), "tokens reached admin powers:\n{}", failures.join("\n"));
        app.login(ventanilla_tests::ADMIN_EMAIL, ventanilla_tests::ADMIN_PASSWORD).await?;
        Ok(())
    }

    async fn nothing_leaks_across_units(backend) {
        let provider = FakeProvider::start().await?;
        let port = provider.port;
        let app = spawn_app_with(backend, |c| c.plugins.private_hosts = vec![format!("localhost:{port}")]).await?;
        let f = fixture(&app, provider).await?;
        let agent_b = f.tokens.iter().find(|(w, _)| *w == AgentB).and_then(|(_, t)| t.clone()).unwrap_or_default();
        for path in [
            "/api/v1/cases".to_owned(),
            "/api/v1/cases?q=Secreto".to_owned(),
            format!("/api/v1/cases?contact_id={}", f.contact_a),
            format!("/api/v1/cases?unit_id={}", f.unit_a),
            "/api/v1/contacts".to_owned(),
            "/api/v1/contacts?q=Persona".to_owned(),
            "/api/v1/tags".to_owned(),
        ] {
            let reply = app.get(&path, &agent_b).await?;
            anyhow::ensure!(reply.status == 200, "{path}: {}", reply.text);
            anyhow::ensure!(reply.body["items"].as_array().is_some_and(|i| i.is_empty()), "{path} leaked: {}", reply.text);
        }
        // Reports count unit A's case for unit A's supervisor, and nothing of
        // it for unit B's agent, whatever the filters.
        let supervisor_a = f.tokens.iter().find(|(w, _)| *w == SupervisorA).and_then(|(_, t)| t.clone()).unwrap_or_default();
        let cases = |body: &Value| body["rows"].as_array().into_iter().flatten().map(|r| r[0].as_i64().unwrap_or(0)).sum::<i64>();
        let counted = ventanilla_tests::eventually(std::time::Duration::from_secs(20), || async {
            let body = app.get("/api/v1/reports/volume", &supervisor_a).await.ok()?.body;
            (cases(&body) > 0).then_some(())
        }).await;
        anyhow::ensure!(counted.is_some(), "unit A's supervisor never saw the case in reports");
        for path in ["/api/v1/reports/volume".to_owned(), format!("/api/v1/reports/volume?unit_id={}", f.unit_a),
                     format!("/api/v1/reports/agents?agent_id={}", f.agent_a), "/api/v1/reports/topics".to_owned()] {
            let reply = app.get(&path, &agent_b).await?;
            anyhow::ensure!(reply.status == 200, "{path}: {}", reply.text);
            let leaked = reply.body["rows"].as_array().into_iter().flatten()
                .any(|r| r.as_array().into_iter().flatten().any(|c| c.as_str() == Some(&f.agent_a)) || r.as_array().and_then(|r| r.iter().find(|c| c.is_number())).and_then(Value::as_i64).unwrap_or(0) > 0);
            anyhow::ensure!(!leaked, "{path} leaked: {}", reply.text);
        }
        // Nor unit A's queue on the wallboard, which its supervisor does see.
        let board = app.get("/api/v1/wallboard", &agent_b).await?;
        anyhow::ensure!(board.status == 200 && !board.text.contains(&f.unit_a), "wallboard leaked: {}", board.text);
        let theirs = app.get("/api/v1/wallboard", &supervisor_a).await?;
        anyhow::ensure!(theirs.text.contains(&f.unit_a), "unit A's supervisor sees its queue: {}", theirs.text);
        // The same searches do find the case for unit A's agent.
        let agent_a = f.tokens.iter().find(|(w, _)| *w == AgentA).and_then(|(_, t)| t.clone()).unwrap_or_default();
        let mine = app.get("/api/v1/cases?q=Secreto", &agent_a).await?;
        anyhow::ensure!(mine.body["items"][0]["id"] == json!(f.case_a), "agent A finds the case: {}", mine.text);
        Ok(())
    }
}
