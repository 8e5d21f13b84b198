//! The foundation: units, users, contacts, consent, cases, messages, notes,
//! tags, API tokens, audit log, idempotency keys, settings and jobs.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().primary_key().to_owned()
}

fn uuid(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().not_null().to_owned()
}

fn uuid_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).uuid().null().to_owned()
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn text_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}

fn time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().not_null().to_owned()
}

fn time_null(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).timestamp_with_time_zone().null().to_owned()
}

fn json(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).json_binary().not_null().to_owned()
}

fn fk(from: (impl IntoIden, impl IntoIden), to: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Cascade).to_owned()
}

fn restrict(from: (impl IntoIden, impl IntoIden), to: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    ForeignKey::create().from(from.0, from.1).to(to.0, to.1).on_delete(ForeignKeyAction::Restrict).to_owned()
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Units::Table)
                .col(id(Units::Id))
                .col(ColumnDef::new(Units::Slug).string_len(64).not_null().unique_key())
                .col(text(Units::Name))
                .col(text(Units::Timezone))
                .col(json(Units::BusinessHours))
                .col(time(Units::CreatedAt))
                .col(time(Units::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(id(Users::Id))
                .col(ColumnDef::new(Users::Email).string_len(254).not_null().unique_key())
                .col(text(Users::DisplayName))
                .col(text(Users::PasswordHash))
                .col(ColumnDef::new(Users::IsAdmin).boolean().not_null().default(false))
                .col(ColumnDef::new(Users::Active).boolean().not_null().default(true))
                .col(ColumnDef::new(Users::Locale).string_len(8).not_null().default("es"))
                .col(time(Users::CreatedAt))
                .col(time(Users::UpdatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Memberships::Table)
                .col(uuid(Memberships::UserId))
                .col(uuid(Memberships::UnitId))
                .col(ColumnDef::new(Memberships::Role).string_len(16).not_null())
                .primary_key(Index::create().col(Memberships::UserId).col(Memberships::UnitId))
                .foreign_key(&mut fk((Memberships::Table, Memberships::UserId), (Users::Table, Users::Id)))
                .foreign_key(&mut fk((Memberships::Table, Memberships::UnitId), (Units::Table, Units::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_memberships_unit", Memberships::Table, &["unit_id"])).await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(id(RefreshTokens::Id))
                .col(uuid(RefreshTokens::UserId))
                .col(uuid(RefreshTokens::FamilyId))
                .col(ColumnDef::new(RefreshTokens::TokenHash).string_len(64).not_null().unique_key())
                .col(time(RefreshTokens::ExpiresAt))
                .col(time_null(RefreshTokens::RevokedAt))
                .col(uuid_null(RefreshTokens::ReplacedBy))
                .col(time(RefreshTokens::CreatedAt))
                .foreign_key(&mut fk((RefreshTokens::Table, RefreshTokens::UserId), (Users::Table, Users::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_refresh_tokens_family", RefreshTokens::Table, &["family_id"])).await?;

        m.create_table(
            Table::create()
                .table(ApiTokens::Table)
                .col(id(ApiTokens::Id))
                .col(text(ApiTokens::Name))
                .col(ColumnDef::new(ApiTokens::Prefix).string_len(16).not_null())
                .col(ColumnDef::new(ApiTokens::TokenHash).string_len(64).not_null().unique_key())
                .col(json(ApiTokens::Scopes))
                .col(uuid_null(ApiTokens::CreatedBy))
                .col(time(ApiTokens::CreatedAt))
                .col(time_null(ApiTokens::ExpiresAt))
                .col(time_null(ApiTokens::LastUsedAt))
                .col(time_null(ApiTokens::RevokedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Contacts::Table)
                .col(id(Contacts::Id))
                .col(text_null(Contacts::Name))
                .col(json(Contacts::CustomAttributes))
                .col(uuid_null(Contacts::MergedInto))
                .col(uuid_null(Contacts::CreatedBy))
                .col(time(Contacts::CreatedAt))
                .col(time(Contacts::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_contacts_created", Contacts::Table, &["created_at", "id"])).await?;

        m.create_table(
            Table::create()
                .table(ContactIdentities::Table)
                .col(id(ContactIdentities::Id))
                .col(uuid(ContactIdentities::ContactId))
                .col(ColumnDef::new(ContactIdentities::Channel).string_len(16).not_null())
                .col(ColumnDef::new(ContactIdentities::Value).string_len(320).not_null())
                .col(time(ContactIdentities::CreatedAt))
                .foreign_key(&mut fk(
                    (ContactIdentities::Table, ContactIdentities::ContactId),
                    (Contacts::Table, Contacts::Id),
                ))
                .to_owned(),
        )
        .await?;
        m.create_index(
            index("ux_identities_channel_value", ContactIdentities::Table, &["channel", "value"]).unique().to_owned(),
        )
        .await?;
        m.create_index(index("ix_identities_contact", ContactIdentities::Table, &["contact_id"])).await?;

        m.create_table(
            Table::create()
                .table(Consents::Table)
                .col(id(Consents::Id))
                .col(uuid(Consents::ContactId))
                .col(ColumnDef::new(Consents::Purpose).string_len(64).not_null())
                .col(ColumnDef::new(Consents::Action).string_len(16).not_null())
                .col(ColumnDef::new(Consents::TextVersion).string_len(64).not_null())
                .col(ColumnDef::new(Consents::Channel).string_len(16).not_null())
                .col(ColumnDef::new(Consents::Source).string_len(64).not_null())
                .col(uuid_null(Consents::RecordedBy))
                .col(time(Consents::RecordedAt))
                .foreign_key(&mut fk((Consents::Table, Consents::ContactId), (Contacts::Table, Contacts::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_consents_contact", Consents::Table, &["contact_id", "recorded_at"])).await?;

        m.create_table(
            Table::create()
                .table(Cases::Table)
                .col(id(Cases::Id))
                .col(ColumnDef::new(Cases::Number).big_integer().not_null().unique_key())
                .col(text(Cases::Subject))
                .col(ColumnDef::new(Cases::Channel).string_len(16).not_null())
                .col(uuid(Cases::ContactId))
                .col(uuid(Cases::UnitId))
                .col(uuid_null(Cases::AssigneeId))
                .col(ColumnDef::new(Cases::Status).string_len(24).not_null())
                .col(ColumnDef::new(Cases::Priority).string_len(16).not_null())
                .col(json(Cases::CustomFields))
                .col(time(Cases::CreatedAt))
                .col(time(Cases::UpdatedAt))
                .col(time_null(Cases::FirstResponseAt))
                .col(time_null(Cases::ResolvedAt))
                .col(time_null(Cases::ClosedAt))
                .foreign_key(&mut restrict((Cases::Table, Cases::ContactId), (Contacts::Table, Contacts::Id)))
                .foreign_key(&mut restrict((Cases::Table, Cases::UnitId), (Units::Table, Units::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_cases_unit_created", Cases::Table, &["unit_id", "created_at", "id"])).await?;
        m.create_index(index("ix_cases_unit_updated", Cases::Table, &["unit_id", "updated_at", "id"])).await?;
        m.create_index(index("ix_cases_created", Cases::Table, &["created_at", "id"])).await?;
        m.create_index(index("ix_cases_status", Cases::Table, &["status", "unit_id"])).await?;
        m.create_index(index("ix_cases_assignee", Cases::Table, &["assignee_id", "status"])).await?;
        m.create_index(index("ix_cases_contact", Cases::Table, &["contact_id", "created_at"])).await?;

        m.create_table(
            Table::create()
                .table(CaseTags::Table)
                .col(uuid(CaseTags::CaseId))
                .col(ColumnDef::new(CaseTags::Tag).string_len(64).not_null())
                .primary_key(Index::create().col(CaseTags::CaseId).col(CaseTags::Tag))
                .foreign_key(&mut fk((CaseTags::Table, CaseTags::CaseId), (Cases::Table, Cases::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_case_tags_tag", CaseTags::Table, &["tag", "case_id"])).await?;

        m.create_table(
            Table::create()
                .table(Messages::Table)
                .col(id(Messages::Id))
                .col(uuid(Messages::CaseId))
                .col(ColumnDef::new(Messages::Direction).string_len(16).not_null())
                .col(ColumnDef::new(Messages::AuthorKind).string_len(16).not_null())
                .col(uuid_null(Messages::AuthorUserId))
                .col(text(Messages::Body))
                .col(json(Messages::Attachments))
                .col(text_null(Messages::ProviderMessageId))
                .col(ColumnDef::new(Messages::DeliveryStatus).string_len(16).not_null())
                .col(time(Messages::CreatedAt))
                .foreign_key(&mut fk((Messages::Table, Messages::CaseId), (Cases::Table, Cases::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_messages_case", Messages::Table, &["case_id", "created_at", "id"])).await?;

        m.create_table(
            Table::create()
                .table(Notes::Table)
                .col(id(Notes::Id))
                .col(uuid(Notes::CaseId))
                .col(uuid_null(Notes::AuthorUserId))
                .col(text(Notes::Body))
                .col(time(Notes::CreatedAt))
                .foreign_key(&mut fk((Notes::Table, Notes::CaseId), (Cases::Table, Cases::Id)))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_notes_case", Notes::Table, &["case_id", "created_at", "id"])).await?;

        m.create_table(
            Table::create()
                .table(AuditEvents::Table)
                .col(id(AuditEvents::Id))
                .col(time(AuditEvents::At))
                .col(ColumnDef::new(AuditEvents::ActorKind).string_len(16).not_null())
                .col(text(AuditEvents::ActorId))
                .col(ColumnDef::new(AuditEvents::Action).string_len(64).not_null())
                .col(ColumnDef::new(AuditEvents::TargetKind).string_len(32).not_null())
                .col(text(AuditEvents::TargetId))
                .col(uuid_null(AuditEvents::UnitId))
                .col(json(AuditEvents::Details))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_audit_at", AuditEvents::Table, &["at", "id"])).await?;
        m.create_index(index("ix_audit_target", AuditEvents::Table, &["target_kind", "target_id"])).await?;

        m.create_table(
            Table::create()
                .table(IdempotencyKeys::Table)
                .col(ColumnDef::new(IdempotencyKeys::Principal).string_len(64).not_null())
                .col(ColumnDef::new(IdempotencyKeys::Key).string_len(255).not_null())
                .col(ColumnDef::new(IdempotencyKeys::RequestHash).string_len(64).not_null())
                .col(ColumnDef::new(IdempotencyKeys::Status).small_integer().not_null())
                .col(text(IdempotencyKeys::Body))
                .col(time(IdempotencyKeys::CreatedAt))
                .primary_key(Index::create().col(IdempotencyKeys::Principal).col(IdempotencyKeys::Key))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Settings::Table)
                .col(ColumnDef::new(Settings::Key).string_len(64).not_null().primary_key())
                .col(text(Settings::Value))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Jobs::Table)
                .col(id(Jobs::Id))
                .col(ColumnDef::new(Jobs::Kind).string_len(64).not_null())
                .col(json(Jobs::Payload))
                .col(ColumnDef::new(Jobs::Status).string_len(16).not_null())
                .col(time(Jobs::RunAt))
                .col(ColumnDef::new(Jobs::Attempts).integer().not_null().default(0))
                .col(time_null(Jobs::LockedUntil))
                .col(text_null(Jobs::LastError))
                .col(ColumnDef::new(Jobs::IdempotencyKey).string_len(255).null().unique_key())
                .col(time(Jobs::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index("ix_jobs_due", Jobs::Table, &["status", "run_at"])).await?;
        if m.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            // Case numbers come from a sequence on PostgreSQL, where many
            // instances insert at once; SQLite has one writer and uses MAX + 1.
            m.get_connection().execute_unprepared("CREATE SEQUENCE case_number_seq").await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 16] = [
            Jobs::Table.into_iden(),
            Settings::Table.into_iden(),
            IdempotencyKeys::Table.into_iden(),
            AuditEvents::Table.into_iden(),
            Notes::Table.into_iden(),
            Messages::Table.into_iden(),
            CaseTags::Table.into_iden(),
            Cases::Table.into_iden(),
            Consents::Table.into_iden(),
            ContactIdentities::Table.into_iden(),
            Contacts::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Memberships::Table.into_iden(),
            Users::Table.into_iden(),
            Units::Table.into_iden(),
        ];
        for table in tables {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        if m.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            m.get_connection().execute_unprepared("DROP SEQUENCE IF EXISTS case_number_seq").await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Units {
    Table,
    Id,
    Slug,
    Name,
    Timezone,
    BusinessHours,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    IsAdmin,
    Active,
    Locale,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum Memberships {
    Table,
    UserId,
    UnitId,
    Role,
}
#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    RevokedAt,
    ReplacedBy,
    CreatedAt,
}
#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Prefix,
    TokenHash,
    Scopes,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
}
#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
    Name,
    CustomAttributes,
    MergedInto,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}
#[derive(DeriveIden)]
enum ContactIdentities {
    Table,
    Id,
    ContactId,
    Channel,
    Value,
    CreatedAt,
}
#[derive(DeriveIden)]
enum Consents {
    Table,
    Id,
    ContactId,
    Purpose,
    Action,
    TextVersion,
    Channel,
    Source,
    RecordedBy,
    RecordedAt,
}
#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    Number,
    Subject,
    Channel,
    ContactId,
    UnitId,
    AssigneeId,
    Status,
    Priority,
    CustomFields,
    CreatedAt,
    UpdatedAt,
    FirstResponseAt,
    ResolvedAt,
    ClosedAt,
}
#[derive(DeriveIden)]
enum CaseTags {
    Table,
    CaseId,
    Tag,
}
#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    CaseId,
    Direction,
    AuthorKind,
    AuthorUserId,
    Body,
    Attachments,
    ProviderMessageId,
    DeliveryStatus,
    CreatedAt,
}
#[derive(DeriveIden)]
enum Notes {
    Table,
    Id,
    CaseId,
    AuthorUserId,
    Body,
    CreatedAt,
}
#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    ActorKind,
    ActorId,
    Action,
    TargetKind,
    TargetId,
    UnitId,
    Details,
}
#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Principal,
    Key,
    RequestHash,
    Status,
    Body,
    CreatedAt,
}
#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
}
#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    Kind,
    Payload,
    Status,
    RunAt,
    Attempts,
    LockedUntil,
    LastError,
    IdempotencyKey,
    CreatedAt,
}
