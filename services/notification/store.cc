#include "services/notification/store.h"

#include <algorithm>
#include <map>

#include <boost/json.hpp>
#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sb/db/arrays.h"
#include "sb/db/transaction.h"
#include "services/notification/templates.h"

namespace sb::notification {
namespace {

namespace json = boost::json;

// Epoch milliseconds of a timestamptz column, NULL stays NULL.
#define SB_MS(col) "(extract(epoch from " col ") * 1000)::bigint"

constexpr char kColumns[] =
    "id, recipient_id, type, actor_id, actor_name, actor_avatar_url, actors::text, entity_type, entity_id, title, "
    "body, deep_link, data::text, coalesce(group_key, ''), group_count, " SB_MS("read_at") ", " SB_MS("created_at")
    ", " SB_MS("updated_at");

constexpr char kTypeColumns[] =
    "name, title_template, body_template, deep_link_template, default_enabled, push, built_in";

constexpr char kPrefColumns[] = "push_enabled, email_enabled, types::text, quiet_start, quiet_end, time_zone";

std::string DataJson(const std::map<std::string, std::string>& data) {
  json::object o;
  for (const auto& [k, v] : data) o[k] = v;
  return json::serialize(o);
}

std::map<std::string, std::string> ParseData(const std::string& text) {
  std::map<std::string, std::string> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return out;
  for (const auto& [k, val] : v.as_object()) {
    if (val.is_string()) out[std::string(k)] = std::string(val.as_string());
  }
  return out;
}

std::string ActorsJson(const std::vector<Actor>& actors) {
  json::array a;
  for (const auto& actor : actors) {
    a.push_back(json::object{{"id", actor.id}, {"name", actor.name}, {"avatarUrl", actor.avatar_url}});
  }
  return json::serialize(a);
}

std::vector<Actor> ParseActors(const std::string& text) {
  std::vector<Actor> out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  auto str = [](const json::object& o, const char* key) {
    const auto* f = o.if_contains(key);
    return f && f->is_string() ? std::string(f->as_string()) : std::string();
  };
  for (const auto& item : v.as_array()) {
    if (!item.is_object()) continue;
    const auto& o = item.as_object();
    out.push_back(Actor{str(o, "id"), str(o, "name"), str(o, "avatarUrl")});
  }
  return out;
}

Notification ReadNotification(const pqxx::row& r) {
  Notification n;
  n.id = r[0].as<int64_t>();
  n.recipient_id = r[1].as<std::string>();
  n.type = r[2].as<std::string>();
  n.actor = Actor{r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::string>()};
  n.actors = ParseActors(r[6].as<std::string>());
  n.entity_type = r[7].as<std::string>();
  n.entity_id = r[8].as<std::string>();
  n.title = r[9].as<std::string>();
  n.body = r[10].as<std::string>();
  n.deep_link = r[11].as<std::string>();
  n.data = ParseData(r[12].as<std::string>());
  n.group_key = r[13].as<std::string>();
  n.count = r[14].as<int64_t>();
  if (!r[15].is_null()) n.read_at_ms = r[15].as<int64_t>();
  n.created_at_ms = r[16].as<int64_t>();
  n.updated_at_ms = r[17].as<int64_t>();
  return n;
}

NotificationType ReadType(const pqxx::row& r, int at = 0) {
  return NotificationType{r[at].as<std::string>(),     r[at + 1].as<std::string>(), r[at + 2].as<std::string>(),
                          r[at + 3].as<std::string>(), r[at + 4].as<bool>(),        r[at + 5].as<bool>(),
                          r[at + 6].as<bool>()};
}

// Preferences from kPrefColumns starting at `at` (absent row: the defaults).
Preferences ReadPrefs(const std::string& user, const pqxx::row& r, int at) {
  Preferences p;
  p.user_id = user;
  p.push_enabled = r[at].as<bool>();
  p.email_enabled = r[at + 1].as<bool>();
  boost::system::error_code ec;
  json::value types = json::parse(r[at + 2].as<std::string>(), ec);
  if (!ec && types.is_object()) {
    for (const auto& [k, v] : types.as_object()) {
      if (v.is_bool()) p.type_overrides[std::string(k)] = v.as_bool();
    }
  }
  if (!r[at + 3].is_null() && !r[at + 4].is_null()) {
    p.quiet_hours = QuietHours{true, r[at + 3].as<int>(), r[at + 4].as<int>()};
  }
  p.time_zone = r[at + 5].as<std::string>();
  return p;
}

bool Enabled(const Preferences& prefs, const NotificationType& type) {
  auto it = prefs.type_overrides.find(type.name);
  return it != prefs.type_overrides.end() ? it->second : type.default_enabled;
}

int64_t BumpCounter(pqxx::work& tx, const std::string& user) {
  return tx.exec_params1("INSERT INTO notification.counters (recipient_id, unread) VALUES ($1, 1) "
                         "ON CONFLICT (recipient_id) DO UPDATE SET unread = notification.counters.unread + 1 "
                         "RETURNING unread",
                         user)[0]
      .as<int64_t>();
}

int64_t ReadCounter(pqxx::work& tx, const std::string& user) {
  auto r = tx.exec_params("SELECT unread FROM notification.counters WHERE recipient_id = $1", user);
  return r.empty() ? 0 : r[0][0].as<int64_t>();
}

}  // namespace

absl::StatusOr<NotificationType> NotificationStore::GetType(const std::string& name) {
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) -> absl::StatusOr<NotificationType> {
        auto r = tx.exec_params(absl::StrCat("SELECT ", kTypeColumns, " FROM notification.types WHERE name = $1"), name);
        if (r.empty()) return absl::NotFoundError(absl::StrCat("notification type \"", name, "\" is not registered"));
        return ReadType(r[0]);
      },
      {.read_only = true});
}

absl::StatusOr<std::vector<NotificationType>> NotificationStore::ListTypes() {
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        std::vector<NotificationType> out;
        for (const auto& r : tx.exec(absl::StrCat("SELECT ", kTypeColumns, " FROM notification.types ORDER BY name"))) {
          out.push_back(ReadType(r));
        }
        return out;
      },
      {.read_only = true});
}

absl::StatusOr<NotificationType> NotificationStore::UpsertType(const NotificationType& t) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<NotificationType> {
    auto r = tx.exec_params(
        absl::StrCat("INSERT INTO notification.types AS t (name, title_template, body_template, deep_link_template, "
                     "default_enabled, push) VALUES ($1, $2, $3, $4, $5, $6) "
                     "ON CONFLICT (name) DO UPDATE SET title_template = $2, body_template = $3, "
                     "deep_link_template = $4, default_enabled = $5, push = $6, updated_at = now() "
                     "WHERE NOT t.built_in RETURNING ",
                     kTypeColumns),
        t.name, t.title_template, t.body_template, t.deep_link_template, t.default_enabled, t.push);
    if (r.empty()) {
      return absl::FailedPreconditionError(absl::StrCat("\"", t.name, "\" is a built-in type and cannot be redefined"));
    }
    return ReadType(r[0]);
  });
}

absl::StatusOr<NotificationStore::NotifyResult> NotificationStore::Notify(const NotifyInput& in) {
  const Notification& ev = in.event;
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<NotifyResult> {
    NotifyResult result;
    auto head = tx.exec_params(
        absl::StrCat("SELECT ", kTypeColumns,
                     ", coalesce(p.push_enabled, true), coalesce(p.email_enabled, true), coalesce(p.types::text, '{}'), "
                     "p.quiet_start, p.quiet_end, coalesce(p.time_zone, 'UTC') "
                     "FROM notification.types t LEFT JOIN notification.preferences p ON p.user_id = $2 "
                     "WHERE t.name = $1"),
        ev.type, ev.recipient_id);
    if (head.empty()) return absl::NotFoundError(absl::StrCat("notification type \"", ev.type, "\" is not registered"));
    result.type = ReadType(head[0]);
    result.prefs = ReadPrefs(ev.recipient_id, head[0], 7);
    if (!Enabled(result.prefs, result.type)) {
      result.outcome = Outcome::kDisabled;
      return result;
    }

    if (!in.dedupe_key.empty()) {
      auto fresh = tx.exec_params(
          "INSERT INTO notification.dedupe_keys (recipient_id, dedupe_key) VALUES ($1, $2) "
          "ON CONFLICT DO NOTHING RETURNING 1",
          ev.recipient_id, in.dedupe_key);
      if (fresh.empty()) {
        result.outcome = Outcome::kDuplicate;
        auto existing = tx.exec_params(
            absl::StrCat("SELECT ", kColumns, " FROM notification.notifications WHERE id = "
                         "(SELECT notification_id FROM notification.dedupe_keys WHERE recipient_id = $1 AND dedupe_key = $2)"),
            ev.recipient_id, in.dedupe_key);
        if (!existing.empty()) result.notification = ReadNotification(existing[0]);
        result.unread = ReadCounter(tx, ev.recipient_id);
        return result;
      }
    }

    std::optional<Notification> merged;
    if (!ev.group_key.empty()) {
      // Serializes the events of one group, so two first events cannot both insert.
      tx.exec_params("SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))", ev.recipient_id,
                     ev.group_key);
      auto row = tx.exec_params(
          absl::StrCat("SELECT ", kColumns,
                       " FROM notification.notifications WHERE recipient_id = $1 AND group_key = $2 "
                       "AND read_at IS NULL AND updated_at > now() - make_interval(secs => $3::double precision) "
                       "ORDER BY updated_at DESC LIMIT 1 FOR UPDATE"),
          ev.recipient_id, ev.group_key, absl::ToDoubleSeconds(in.collapse_window));
      if (!row.empty()) merged = ReadNotification(row[0]);
    }

    Notification n;
    if (merged) {
      n = *merged;
      n.actors = MergeActors(ev.actor, n.actors.empty() ? std::vector<Actor>{n.actor} : n.actors);
      n.actor = ev.actor;
      n.count += 1;
      for (const auto& [k, v] : ev.data) n.data[k] = v;  // the latest event's data wins
      RenderInto(result.type, in.deep_link, n);
      auto r = tx.exec_params1(
          absl::StrCat("UPDATE notification.notifications SET actor_id = $2, actor_name = $3, actor_avatar_url = $4, "
                       "actors = $5::jsonb, title = $6, body = $7, deep_link = $8, data = $9::jsonb, group_count = $10, "
                       "updated_at = now() WHERE id = $1 RETURNING ",
                       kColumns),
          n.id, n.actor.id, n.actor.name, n.actor.avatar_url, ActorsJson(n.actors), n.title, n.body, n.deep_link,
          DataJson(n.data), n.count);
      n = ReadNotification(r);
      result.outcome = Outcome::kCollapsed;
      result.unread = ReadCounter(tx, ev.recipient_id);
    } else {
      n = ev;
      n.count = 1;
      n.actors = ev.actor.id.empty() ? std::vector<Actor>{} : std::vector<Actor>{ev.actor};
      RenderInto(result.type, in.deep_link, n);
      if (n.title.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("the title of type \"", n.type,
                                                       "\" renders empty: pass its template variables in data"));
      }
      auto r = tx.exec_params1(
          absl::StrCat("INSERT INTO notification.notifications (recipient_id, type, actor_id, actor_name, "
                       "actor_avatar_url, actors, entity_type, entity_id, title, body, deep_link, data, dedupe_key, "
                       "group_key) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12::jsonb, "
                       "NULLIF($13, ''), NULLIF($14, '')) RETURNING ",
                       kColumns),
          n.recipient_id, n.type, n.actor.id, n.actor.name, n.actor.avatar_url, ActorsJson(n.actors), n.entity_type,
          n.entity_id, n.title, n.body, n.deep_link, DataJson(n.data), in.dedupe_key, n.group_key);
      n = ReadNotification(r);
      result.outcome = Outcome::kCreated;
      result.unread = BumpCounter(tx, ev.recipient_id);
    }
    if (!in.dedupe_key.empty()) {
      tx.exec_params0("UPDATE notification.dedupe_keys SET notification_id = $3 WHERE recipient_id = $1 AND dedupe_key = $2",
                      ev.recipient_id, in.dedupe_key, n.id);
    }
    result.notification = std::move(n);
    return result;
  });
}

absl::StatusOr<NotificationStore::ChunkResult> NotificationStore::NotifyChunk(const NotificationType& type,
                                                                              const ChunkInput& in) {
  const Notification& ev = in.event;
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<ChunkResult> {
    ChunkResult result;
    std::map<std::string, Preferences> prefs;
    for (const auto& r : tx.exec_params(
             absl::StrCat("SELECT user_id, ", kPrefColumns, " FROM notification.preferences WHERE user_id = ANY($1::text[])"),
             sb::db::TextArray(in.recipients))) {
      std::string user = r[0].as<std::string>();
      prefs.emplace(user, ReadPrefs(user, r, 1));
    }
    auto prefs_of = [&](const std::string& user) {
      auto it = prefs.find(user);
      if (it != prefs.end()) return it->second;
      Preferences p;
      p.user_id = user;
      return p;
    };
    std::vector<std::string> targets;
    for (const auto& user : in.recipients) {
      if (Enabled(prefs_of(user), type)) {
        targets.push_back(user);
      } else {
        ++result.disabled;
      }
    }
    if (!in.dedupe_key.empty() && !targets.empty()) {
      std::vector<std::string> fresh;
      for (const auto& r : tx.exec_params(
               "INSERT INTO notification.dedupe_keys (recipient_id, dedupe_key) "
               "SELECT r, $2 FROM unnest($1::text[]) AS r ORDER BY r ON CONFLICT DO NOTHING RETURNING recipient_id",
               sb::db::TextArray(targets), in.dedupe_key)) {
        fresh.push_back(r[0].as<std::string>());
      }
      std::sort(fresh.begin(), fresh.end());
      result.duplicates = static_cast<int>(targets.size() - fresh.size());
      targets = std::move(fresh);
    }
    if (targets.empty()) return result;

    const std::vector<Actor> actors = ev.actor.id.empty() ? std::vector<Actor>{} : std::vector<Actor>{ev.actor};
    auto rows = tx.exec_params(
        "INSERT INTO notification.notifications (recipient_id, type, actor_id, actor_name, actor_avatar_url, actors, "
        "entity_type, entity_id, title, body, deep_link, data, dedupe_key) "
        "SELECT r, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11, $12::jsonb, NULLIF($13, '') "
        "FROM unnest($1::text[]) AS r ORDER BY r "
        "RETURNING recipient_id, id, " SB_MS("created_at"),
        sb::db::TextArray(targets), type.name, ev.actor.id, ev.actor.name, ev.actor.avatar_url, ActorsJson(actors),
        ev.entity_type, ev.entity_id, ev.title, ev.body, ev.deep_link, DataJson(ev.data), in.dedupe_key);
    std::map<std::string, std::pair<int64_t, int64_t>> ids;  // recipient -> (id, created ms)
    for (const auto& r : rows) ids[r[0].as<std::string>()] = {r[1].as<int64_t>(), r[2].as<int64_t>()};
    if (!in.dedupe_key.empty()) {
      std::vector<std::string> users;
      std::vector<int64_t> id_list;
      for (const auto& [user, id] : ids) {
        users.push_back(user);
        id_list.push_back(id.first);
      }
      tx.exec_params0(
          "UPDATE notification.dedupe_keys d SET notification_id = v.id "
          "FROM unnest($1::text[], $2::bigint[]) AS v(r, id) WHERE d.recipient_id = v.r AND d.dedupe_key = $3",
          sb::db::TextArray(users), sb::db::IdArray(id_list), in.dedupe_key);
    }
    std::map<std::string, int64_t> unread;
    for (const auto& r : tx.exec_params(
             "INSERT INTO notification.counters (recipient_id, unread) SELECT r, 1 FROM unnest($1::text[]) AS r ORDER BY r "
             "ON CONFLICT (recipient_id) DO UPDATE SET unread = notification.counters.unread + 1 "
             "RETURNING recipient_id, unread",
             sb::db::TextArray(targets))) {
      unread[r[0].as<std::string>()] = r[1].as<int64_t>();
    }
    for (const auto& user : targets) {
      Delivered d;
      d.notification = ev;
      d.notification.recipient_id = user;
      d.notification.type = type.name;
      d.notification.actors = actors;
      d.notification.count = 1;
      d.notification.group_key.clear();
      d.notification.id = ids[user].first;
      d.notification.created_at_ms = d.notification.updated_at_ms = ids[user].second;
      d.unread = unread[user];
      d.prefs = prefs_of(user);
      result.created.push_back(std::move(d));
    }
    return result;
  });
}

absl::StatusOr<NotificationPage> NotificationStore::List(const std::string& user, const std::string& cursor, int limit,
                                                         bool unread_only) {
  // Cursor: "<updated_at micros>_<id>" of the last notification of the previous page.
  int64_t cursor_us = 0, cursor_id = 0;
  if (!cursor.empty()) {
    std::vector<std::string> parts = absl::StrSplit(cursor, '_');
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &cursor_us) || !absl::SimpleAtoi(parts[1], &cursor_id) ||
        cursor_id <= 0) {
      return absl::InvalidArgumentError("cursor: not a cursor returned by List");
    }
  }
  return sb::db::RunInTransaction(
      pool_,
      [&](pqxx::work& tx) {
        auto rows = tx.exec_params(
            absl::StrCat("SELECT ", kColumns, ", (extract(epoch from updated_at) * 1000000)::bigint "
                         "FROM notification.notifications WHERE recipient_id = $1 AND (NOT $2 OR read_at IS NULL) "
                         "AND ($3::bigint = 0 OR (updated_at, id) < "
                         "(timestamptz 'epoch' + $4::bigint * interval '1 microsecond', $3::bigint)) "
                         "ORDER BY updated_at DESC, id DESC LIMIT $5::int"),
            user, unread_only, cursor_id, cursor_us, limit + 1);
        NotificationPage page;
        for (int i = 0; i < static_cast<int>(rows.size()) && i < limit; ++i) {
          page.notifications.push_back(ReadNotification(rows[i]));
        }
        if (static_cast<int>(rows.size()) > limit) {
          page.next_cursor = absl::StrCat(rows[limit - 1][18].as<int64_t>(), "_", rows[limit - 1][0].as<int64_t>());
        }
        return page;
      },
      {.isolation = sb::db::IsolationLevel::kRepeatableRead, .read_only = true});
}

absl::StatusOr<NotificationStore::ReadResult> NotificationStore::MarkRead(const std::string& user, int64_t id) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<ReadResult> {
    auto changed = tx.exec_params(
        "UPDATE notification.notifications SET read_at = now() WHERE id = $1 AND recipient_id = $2 AND read_at IS NULL "
        "RETURNING 1",
        id, user);
    ReadResult result;
    if (changed.empty()) {
      if (tx.exec_params("SELECT 1 FROM notification.notifications WHERE id = $1 AND recipient_id = $2", id, user)
              .empty()) {
        return absl::NotFoundError(absl::StrCat("notification ", id, " not found"));
      }
      result.unread = ReadCounter(tx, user);
      return result;
    }
    result.changed = true;
    auto r = tx.exec_params("UPDATE notification.counters SET unread = GREATEST(unread - 1, 0) WHERE recipient_id = $1 "
                            "RETURNING unread",
                            user);
    result.unread = r.empty() ? 0 : r[0][0].as<int64_t>();
    return result;
  });
}

absl::StatusOr<NotificationStore::ReadAllResult> NotificationStore::MarkAllRead(const std::string& user) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<ReadAllResult> {
    ReadAllResult result;
    result.marked = tx.exec_params1(
                          "WITH marked AS (UPDATE notification.notifications SET read_at = now() "
                          "WHERE recipient_id = $1 AND read_at IS NULL RETURNING 1) SELECT count(*) FROM marked",
                          user)[0]
                        .as<int64_t>();
    // Subtract what was marked rather than reset to 0: a notification committed after this
    // statement's snapshot stays unread, and its +1 must survive.
    auto r = tx.exec_params("UPDATE notification.counters SET unread = GREATEST(unread - $2, 0) WHERE recipient_id = $1 "
                            "RETURNING unread",
                            user, result.marked);
    result.unread = r.empty() ? 0 : r[0][0].as<int64_t>();
    return result;
  });
}

absl::StatusOr<int64_t> NotificationStore::UnreadCount(const std::string& user) {
  return sb::db::RunInTransaction(
      pool_, [&](pqxx::work& tx) { return ReadCounter(tx, user); }, {.read_only = true});
}

absl::StatusOr<Preferences> NotificationStore::GetOrCreatePreferences(const std::string& user) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<Preferences> {
    tx.exec_params0("INSERT INTO notification.preferences (user_id) VALUES ($1) ON CONFLICT DO NOTHING", user);
    auto r = tx.exec_params1(absl::StrCat("SELECT ", kPrefColumns, " FROM notification.preferences WHERE user_id = $1"),
                             user);
    return ReadPrefs(user, r, 0);
  });
}

absl::StatusOr<Preferences> NotificationStore::UpdatePreferences(const std::string& user,
                                                                 const PreferencesUpdate& update) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<Preferences> {
    if (!update.types.empty()) {
      std::vector<std::string> names;
      for (const auto& [name, on] : update.types) names.push_back(name);
      auto known = tx.exec_params("SELECT count(*) FROM notification.types WHERE name = ANY($1::text[])", sb::db::TextArray(names));
      if (known[0][0].as<int64_t>() != static_cast<int64_t>(names.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("types: unknown notification type among ", absl::StrJoin(names, ", ")));
      }
    }
    tx.exec_params0("INSERT INTO notification.preferences (user_id) VALUES ($1) ON CONFLICT DO NOTHING", user);
    auto r = tx.exec_params1(
        absl::StrCat("SELECT ", kPrefColumns, " FROM notification.preferences WHERE user_id = $1 FOR UPDATE"), user);
    Preferences p = ReadPrefs(user, r, 0);
    if (update.push_enabled) p.push_enabled = *update.push_enabled;
    if (update.email_enabled) p.email_enabled = *update.email_enabled;
    for (const auto& [name, on] : update.types) p.type_overrides[name] = on;
    if (update.quiet_hours) p.quiet_hours = *update.quiet_hours;
    if (update.time_zone) p.time_zone = *update.time_zone;
    json::object types;
    for (const auto& [name, on] : p.type_overrides) types[name] = on;
    const bool quiet = p.quiet_hours.enabled;
    tx.exec_params0(
        "UPDATE notification.preferences SET push_enabled = $2, email_enabled = $3, types = $4::jsonb, "
        "quiet_start = CASE WHEN $5 THEN $6::smallint END, quiet_end = CASE WHEN $5 THEN $7::smallint END, "
        "time_zone = $8, updated_at = now() WHERE user_id = $1",
        user, p.push_enabled, p.email_enabled, json::serialize(types), quiet, p.quiet_hours.start_minute,
        p.quiet_hours.end_minute, p.time_zone);
    if (!quiet) p.quiet_hours = QuietHours{};
    return p;
  });
}

absl::StatusOr<int64_t> NotificationStore::RebuildUnreadCounters(const std::string& user) {
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> int64_t {
    if (!user.empty()) {
      // Lock the counter first; writers change rows and then this counter, so any writer either
      // committed before the count below (its rows are counted, its counter change overwritten)
      // or waits and applies its change on top of the rebuilt value.
      tx.exec_params0("INSERT INTO notification.counters (recipient_id, unread) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                      user);
      int64_t before =
          tx.exec_params1("SELECT unread FROM notification.counters WHERE recipient_id = $1 FOR UPDATE", user)[0]
              .as<int64_t>();
      int64_t actual = tx.exec_params1("SELECT count(*) FROM notification.notifications WHERE recipient_id = $1 "
                                       "AND read_at IS NULL",
                                       user)[0]
                           .as<int64_t>();
      if (before == actual) return 0;
      tx.exec_params0("UPDATE notification.counters SET unread = $2 WHERE recipient_id = $1", user, actual);
      return 1;
    }
    // Everyone: the same argument with the whole table locked against writers.
    tx.exec0("LOCK TABLE notification.counters IN SHARE ROW EXCLUSIVE MODE");
    int64_t fixed = tx.exec1(
                          "WITH actual AS (SELECT recipient_id, count(*) AS n FROM notification.notifications "
                          "  WHERE read_at IS NULL GROUP BY recipient_id), "
                          "fixed AS (INSERT INTO notification.counters AS c (recipient_id, unread) "
                          "  SELECT recipient_id, n FROM actual ON CONFLICT (recipient_id) DO UPDATE "
                          "  SET unread = EXCLUDED.unread WHERE c.unread <> EXCLUDED.unread RETURNING 1) "
                          "SELECT count(*) FROM fixed")[0]
                        .as<int64_t>();
    fixed += tx.exec1(
                   "WITH zeroed AS (UPDATE notification.counters c SET unread = 0 WHERE unread <> 0 AND NOT EXISTS "
                   "(SELECT 1 FROM notification.notifications n WHERE n.recipient_id = c.recipient_id "
                   "AND n.read_at IS NULL) RETURNING 1) SELECT count(*) FROM zeroed")[0]
                 .as<int64_t>();
    return fixed;
  });
}

absl::StatusOr<int64_t> NotificationStore::DeleteOlderThan(absl::Duration age, int batch) {
  const double seconds = absl::ToDoubleSeconds(age);
  int64_t total = 0;
  for (;;) {
    auto deleted = sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> int64_t {
      return tx.exec_params1(
                   "WITH gone AS (DELETE FROM notification.notifications WHERE id IN ("
                   "  SELECT id FROM notification.notifications WHERE updated_at < now() - make_interval(secs => $1::double precision) "
                   "  ORDER BY updated_at LIMIT $2::int) "
                   "  RETURNING recipient_id, read_at IS NULL AS unread), "
                   "per_user AS (SELECT recipient_id, count(*) AS n FROM gone WHERE unread GROUP BY recipient_id), "
                   "dec AS (UPDATE notification.counters c SET unread = GREATEST(c.unread - per_user.n, 0) "
                   "  FROM per_user WHERE c.recipient_id = per_user.recipient_id RETURNING 1) "
                   "SELECT (SELECT count(*) FROM gone) + 0 * (SELECT count(*) FROM dec)",
                   seconds, batch)[0]
          .as<int64_t>();
    });
    if (!deleted.ok()) return deleted.status();
    total += *deleted;
    if (*deleted < batch) break;
  }
  auto keys = sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) {
    // Keys of notifications still kept stay too: the row holds the key under its unique index,
    // and the key must keep recognising retries for as long as the notification exists.
    tx.exec_params0("DELETE FROM notification.dedupe_keys d WHERE created_at < now() - make_interval(secs => $1::double precision) "
                    "AND NOT EXISTS (SELECT 1 FROM notification.notifications n WHERE n.id = d.notification_id)",
                    seconds);
  });
  if (!keys.ok()) return keys;
  return total;
}

}  // namespace sb::notification
