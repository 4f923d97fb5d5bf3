#include "services/notification/store.h"

#include <algorithm>
#include <map>
#include <set>

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


// ---- NotifyBatch's statements: each takes the whole batch in one round trip (arrays in, rows out).

// (recipient, type), (recipient, dedupe key) or (recipient, group key).
using PairKey = std::pair<std::string, std::string>;

// Splits pairs into the two text arrays a statement unnests.
std::pair<std::vector<std::string>, std::vector<std::string>> Columns(const std::set<PairKey>& pairs) {
  std::vector<std::string> first, second;
  for (const auto& [a, b] : pairs) {
    first.push_back(a);
    second.push_back(b);
  }
  return {std::move(first), std::move(second)};
}

struct BatchHeads {
  std::map<PairKey, std::pair<NotificationType, Preferences>> by_type_and_user;  // key: (type, recipient)
  int64_t now_ms = 0;  // the transaction's now(), which every row written carries
};

// Types and preferences of every (type, recipient); unknown types are absent.
BatchHeads LoadHeads(pqxx::work& tx, const std::set<PairKey>& type_and_user) {
  auto [types, users] = Columns(type_and_user);
  BatchHeads heads;
  for (const auto& row : tx.exec_params(
           "SELECT v.t, v.r, t.name, t.title_template, t.body_template, t.deep_link_template, t.default_enabled, "
           "t.push, t.built_in, coalesce(p.push_enabled, true), coalesce(p.email_enabled, true), "
           "coalesce(p.types::text, '{}'), p.quiet_start, p.quiet_end, coalesce(p.time_zone, 'UTC'), " SB_MS("now()")
           " FROM unnest($1::text[], $2::text[]) AS v(t, r) JOIN notification.types t ON t.name = v.t "
           "LEFT JOIN notification.preferences p ON p.user_id = v.r",
           sb::db::TextArray(types), sb::db::TextArray(users))) {
    const std::string user = row[1].as<std::string>();
    heads.by_type_and_user[{row[0].as<std::string>(), user}] = {ReadType(row, 2), ReadPrefs(user, row, 9)};
    heads.now_ms = row[15].as<int64_t>();
  }
  return heads;
}

// The dedupe keys already present (retries), with the notification each one created.
struct TakenKeys {
  std::set<PairKey> keys;                  // (recipient, dedupe key)
  std::map<PairKey, Notification> notifications;  // the rows they point at
};

// Inserts every (recipient, dedupe key) in one statement, sorted (a concurrent duplicate waits for
// us, or we for it); the ones already there are returned with their notification.
TakenKeys ClaimDedupeKeys(pqxx::work& tx, const std::set<PairKey>& wanted) {
  auto [users, keys] = Columns(wanted);
  std::set<PairKey> fresh;
  for (const auto& row : tx.exec_params(
           "INSERT INTO notification.dedupe_keys (recipient_id, dedupe_key) "
           "SELECT r, k FROM unnest($1::text[], $2::text[]) AS v(r, k) ORDER BY r, k "
           "ON CONFLICT DO NOTHING RETURNING recipient_id, dedupe_key",
           sb::db::TextArray(users), sb::db::TextArray(keys))) {
    fresh.emplace(row[0].as<std::string>(), row[1].as<std::string>());
  }
  TakenKeys taken;
  for (const auto& key : wanted) {
    if (fresh.count(key) == 0) taken.keys.insert(key);
  }
  if (taken.keys.empty()) return taken;
  auto [taken_users, taken_keys] = Columns(taken.keys);
  for (const auto& row : tx.exec_params(
           absl::StrCat("SELECT x.*, v.r, v.k FROM unnest($1::text[], $2::text[]) AS v(r, k) JOIN LATERAL ("
                        "SELECT ", kColumns, " FROM notification.notifications WHERE id = (SELECT d.notification_id "
                        "FROM notification.dedupe_keys d WHERE d.recipient_id = v.r AND d.dedupe_key = v.k)) x ON true"),
           sb::db::TextArray(taken_users), sb::db::TextArray(taken_keys))) {
    taken.notifications[{row[18].as<std::string>(), row[19].as<std::string>()}] = ReadNotification(row);
  }
  return taken;
}

// Takes the groups' advisory locks in one statement (sorted, so batches and single Notify calls
// take them in one order), then reads the newest unread row of each group within `window`, locked.
std::map<PairKey, Notification> LockGroups(pqxx::work& tx, const std::set<PairKey>& groups, absl::Duration window) {
  auto [users, group_keys] = Columns(groups);
  tx.exec_params("SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(r || chr(31) || g, 0) AS h "
                 "FROM unnest($1::text[], $2::text[]) AS v(r, g)) s ORDER BY h",
                 sb::db::TextArray(users), sb::db::TextArray(group_keys));
  std::map<PairKey, Notification> rows;
  for (const auto& row : tx.exec_params(
           absl::StrCat("SELECT x.*, v.r, v.g FROM unnest($1::text[], $2::text[]) AS v(r, g) JOIN LATERAL ("
                        "SELECT ", kColumns, " FROM notification.notifications WHERE recipient_id = v.r AND "
                        "group_key = v.g AND read_at IS NULL AND updated_at > now() - make_interval(secs => "
                        "$3::double precision) ORDER BY updated_at DESC LIMIT 1 FOR UPDATE) x ON true"),
           sb::db::TextArray(users), sb::db::TextArray(group_keys), absl::ToDoubleSeconds(window))) {
    rows[{row[18].as<std::string>(), row[19].as<std::string>()}] = ReadNotification(row);
  }
  return rows;
}

// A row NotifyBatch creates, with the dedupe key that created it ("" for none).
struct NewRow {
  const Notification* n;
  std::string dedupe_key;
};

// Inserts the rows in one statement, ids drawn in their order (a later row gets the larger id, as
// one by one); returns the ids in that order.
std::vector<int64_t> InsertRows(pqxx::work& tx, const std::vector<NewRow>& rows) {
  std::vector<std::string> recipient, type, actor_id, actor_name, actor_avatar, actors, entity_type, entity_id, title,
      body, deep_link, data, dedupe_key, group_key;
  std::vector<int64_t> count;
  for (const NewRow& row : rows) {
    const Notification& m = *row.n;
    recipient.push_back(m.recipient_id);
    type.push_back(m.type);
    actor_id.push_back(m.actor.id);
    actor_name.push_back(m.actor.name);
    actor_avatar.push_back(m.actor.avatar_url);
    actors.push_back(ActorsJson(m.actors));
    entity_type.push_back(m.entity_type);
    entity_id.push_back(m.entity_id);
    title.push_back(m.title);
    body.push_back(m.body);
    deep_link.push_back(m.deep_link);
    data.push_back(DataJson(m.data));
    dedupe_key.push_back(row.dedupe_key);
    group_key.push_back(m.group_key);
    count.push_back(m.count);
  }
  using sb::db::TextArray;
  std::vector<int64_t> ids(rows.size(), 0);
  for (const auto& row : tx.exec_params(
           "WITH v AS (SELECT nextval('notification.notifications_id_seq') AS id, s.* FROM ("
           "  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
           "  $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::bigint[]) "
           "  WITH ORDINALITY AS u(recipient_id, type, actor_id, actor_name, actor_avatar_url, actors, entity_type, "
           "  entity_id, title, body, deep_link, data, dedupe_key, group_key, group_count, ord) ORDER BY ord) s), "
           "ins AS (INSERT INTO notification.notifications (id, recipient_id, type, actor_id, actor_name, "
           "  actor_avatar_url, actors, entity_type, entity_id, title, body, deep_link, data, dedupe_key, group_key, "
           "  group_count) SELECT id, recipient_id, type, actor_id, actor_name, actor_avatar_url, actors::jsonb, "
           "  entity_type, entity_id, title, body, deep_link, data::jsonb, NULLIF(dedupe_key, ''), "
           "  NULLIF(group_key, ''), group_count::int FROM v ORDER BY ord) "
           "SELECT ord, id FROM v",
           TextArray(recipient), TextArray(type), TextArray(actor_id), TextArray(actor_name), TextArray(actor_avatar),
           TextArray(actors), TextArray(entity_type), TextArray(entity_id), TextArray(title), TextArray(body),
           TextArray(deep_link), TextArray(data), TextArray(dedupe_key), TextArray(group_key),
           sb::db::IdArray(count))) {
    const auto ord = row[0].as<int64_t>();
    if (ord >= 1 && ord <= static_cast<int64_t>(ids.size())) ids[static_cast<size_t>(ord - 1)] = row[1].as<int64_t>();
  }
  return ids;
}

// Writes collapsed rows (actor, actors, rendered text, data, count) in one statement.
void UpdateCollapsedRows(pqxx::work& tx, const std::vector<const Notification*>& rows) {
  std::vector<int64_t> id, count;
  std::vector<std::string> actor_id, actor_name, actor_avatar, actors, title, body, deep_link, data;
  for (const Notification* m : rows) {
    id.push_back(m->id);
    actor_id.push_back(m->actor.id);
    actor_name.push_back(m->actor.name);
    actor_avatar.push_back(m->actor.avatar_url);
    actors.push_back(ActorsJson(m->actors));
    title.push_back(m->title);
    body.push_back(m->body);
    deep_link.push_back(m->deep_link);
    data.push_back(DataJson(m->data));
    count.push_back(m->count);
  }
  using sb::db::TextArray;
  tx.exec_params0(
      "UPDATE notification.notifications n SET actor_id = v.actor_id, actor_name = v.actor_name, "
      "actor_avatar_url = v.actor_avatar_url, actors = v.actors::jsonb, title = v.title, body = v.body, "
      "deep_link = v.deep_link, data = v.data::jsonb, group_count = v.group_count::int, updated_at = now() "
      "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
      "$8::text[], $9::text[], $10::bigint[]) AS v(id, actor_id, actor_name, actor_avatar_url, actors, title, body, "
      "deep_link, data, group_count) WHERE n.id = v.id",
      sb::db::IdArray(id), TextArray(actor_id), TextArray(actor_name), TextArray(actor_avatar), TextArray(actors),
      TextArray(title), TextArray(body), TextArray(deep_link), TextArray(data), sb::db::IdArray(count));
}

// Points each claimed (recipient, dedupe key) at the notification it stands for.
void LinkDedupeKeys(pqxx::work& tx, const std::vector<std::string>& users, const std::vector<std::string>& keys,
                    const std::vector<int64_t>& ids) {
  if (users.empty()) return;
  tx.exec_params0(
      "UPDATE notification.dedupe_keys d SET notification_id = v.id FROM unnest($1::text[], $2::text[], "
      "$3::bigint[]) AS v(r, k, id) WHERE d.recipient_id = v.r AND d.dedupe_key = v.k",
      sb::db::TextArray(users), sb::db::TextArray(keys), sb::db::IdArray(ids));
}

// Adds `created` to each recipient's unread counter in one upsert (sorted); returns every
// recipient's counter as it was before (recipients with nothing created are only read).
std::map<std::string, int64_t> BumpCounters(pqxx::work& tx, const std::map<std::string, int64_t>& created) {
  std::vector<std::string> users;
  std::vector<int64_t> adds;
  for (const auto& [user, add] : created) {
    users.push_back(user);
    adds.push_back(add);
  }
  std::map<std::string, int64_t> before;
  for (const auto& row : tx.exec_params(
           "WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS v(r, n)), "
           "bumped AS (INSERT INTO notification.counters (recipient_id, unread) SELECT r, n FROM v WHERE n > 0 "
           "  ORDER BY r ON CONFLICT (recipient_id) DO UPDATE SET unread = notification.counters.unread + "
           "  EXCLUDED.unread RETURNING recipient_id, unread) "
           "SELECT recipient_id, unread FROM bumped UNION ALL "
           "SELECT c.recipient_id, c.unread FROM notification.counters c JOIN v ON c.recipient_id = v.r WHERE v.n = 0",
           sb::db::TextArray(users), sb::db::IdArray(adds))) {
    const std::string user = row[0].as<std::string>();
    before[user] = row[1].as<int64_t>() - created.at(user);
  }
  return before;
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

absl::StatusOr<std::vector<absl::StatusOr<NotificationStore::NotifyResult>>> NotificationStore::NotifyBatch(
    const std::vector<NotifyInput>& inputs) {
  using Results = std::vector<absl::StatusOr<NotifyResult>>;
  using Key = PairKey;
  if (inputs.empty()) return Results{};
  const absl::Duration window = inputs.front().collapse_window;
  // Everything below lives inside the lambda: RunInTransaction may run it again after a deadlock.
  return sb::db::RunInTransaction(pool_, [&](pqxx::work& tx) -> absl::StatusOr<Results> {
    const size_t n = inputs.size();
    Results results(n, absl::InternalError("not processed"));
    std::vector<NotifyResult> res(n);

    // 1. Types and preferences of every (type, recipient) in one query.
    std::set<Key> pairs;
    for (const auto& in : inputs) pairs.emplace(in.event.type, in.event.recipient_id);
    const BatchHeads heads = LoadHeads(tx, pairs);
    const int64_t now_ms = heads.now_ms;

    // 2. Which items go on: known type, enabled. A key used twice in the batch is claimed by its
    // first enabled use; later uses are duplicates of that one, as they would be one by one.
    std::vector<bool> live(n, false);
    std::vector<int> same_key_as(n, -1);
    std::map<Key, size_t> claimed;
    for (size_t i = 0; i < n; ++i) {
      const auto& in = inputs[i];
      auto head = heads.by_type_and_user.find({in.event.type, in.event.recipient_id});
      if (head == heads.by_type_and_user.end()) {
        results[i] = absl::NotFoundError(absl::StrCat("notification type \"", in.event.type, "\" is not registered"));
        continue;
      }
      res[i].type = head->second.first;
      res[i].prefs = head->second.second;
      if (!Enabled(res[i].prefs, res[i].type)) {
        res[i].outcome = Outcome::kDisabled;
        results[i] = res[i];
        continue;
      }
      live[i] = true;
      if (in.dedupe_key.empty()) continue;
      auto [it, fresh] = claimed.emplace(Key{in.event.recipient_id, in.dedupe_key}, i);
      if (!fresh) same_key_as[i] = static_cast<int>(it->second);
    }

    // 3. The dedupe gate for every claimed key; keys already present are retries.
    TakenKeys taken;
    if (!claimed.empty()) {
      std::set<Key> wanted;
      for (const auto& [key, i] : claimed) wanted.insert(key);
      taken = ClaimDedupeKeys(tx, wanted);
    }
    auto stores = [&](size_t i) {
      const auto& in = inputs[i];
      return live[i] && same_key_as[i] < 0 &&
             (in.dedupe_key.empty() || taken.keys.count({in.event.recipient_id, in.dedupe_key}) == 0);
    };

    // 4. Collapse targets: the newest unread row of each group within the window, locked.
    struct Slot {
      Notification n;     // its state after the items processed so far
      bool fresh = false;  // inserted by this batch (id known after the insert)
      bool changed = false;
      std::string dedupe_key;  // a fresh row's creating key
    };
    std::vector<Slot> slots;
    std::map<Key, size_t> group_slot;
    std::map<int64_t, size_t> slot_of_id;
    std::set<Key> groups;
    for (size_t i = 0; i < n; ++i) {
      if (stores(i) && !inputs[i].event.group_key.empty()) groups.emplace(inputs[i].event.recipient_id, inputs[i].event.group_key);
    }
    if (!groups.empty()) {
      for (auto& [group, row] : LockGroups(tx, groups, window)) {
        group_slot[group] = slots.size();
        slot_of_id[row.id] = slots.size();
        Slot slot;
        slot.n = std::move(row);
        slots.push_back(std::move(slot));
      }
    }

    // 5. The items in order, in memory: collapse into the group's row (from the table or created
    // earlier in the batch) or create one; duplicates see their notification as it is at that point.
    std::vector<int> item_slot(n, -1);  // the row an item's notification is (fresh ids patched later)
    for (size_t i = 0; i < n; ++i) {
      if (!live[i]) continue;
      const NotifyInput& in = inputs[i];
      const Notification& ev = in.event;
      if (!stores(i)) {
        res[i].outcome = Outcome::kDuplicate;
        if (same_key_as[i] >= 0) {
          const size_t j = static_cast<size_t>(same_key_as[i]);
          item_slot[i] = item_slot[j];
          if (item_slot[j] >= 0) {
            res[i].notification = slots[item_slot[j]].n;
          } else {
            res[i].notification = res[j].notification;
          }
        } else if (auto t = taken.notifications.find({ev.recipient_id, in.dedupe_key}); t != taken.notifications.end()) {
          auto s = slot_of_id.find(t->second.id);
          if (s != slot_of_id.end()) {
            item_slot[i] = static_cast<int>(s->second);
            res[i].notification = slots[s->second].n;
          } else {
            res[i].notification = t->second;
          }
        }
        continue;
      }
      auto group = ev.group_key.empty() ? group_slot.end() : group_slot.find({ev.recipient_id, ev.group_key});
      if (group != group_slot.end()) {
        Slot& slot = slots[group->second];
        Notification m = slot.n;
        m.actors = MergeActors(ev.actor, m.actors.empty() ? std::vector<Actor>{m.actor} : m.actors);
        m.actor = ev.actor;
        m.count += 1;
        for (const auto& [k, v] : ev.data) m.data[k] = v;  // the latest event's data wins
        RenderInto(res[i].type, in.deep_link, m);
        m.updated_at_ms = now_ms;
        slot.n = m;
        slot.changed = true;
        item_slot[i] = static_cast<int>(group->second);
        res[i].outcome = Outcome::kCollapsed;
        res[i].notification = std::move(m);
        continue;
      }
      Notification m = ev;
      m.id = 0;
      m.count = 1;
      m.actors = ev.actor.id.empty() ? std::vector<Actor>{} : std::vector<Actor>{ev.actor};
      m.read_at_ms.reset();
      RenderInto(res[i].type, in.deep_link, m);
      if (m.title.empty()) {
        // Rolls the batch back (its dedupe keys too); the caller retries the items alone.
        return absl::InvalidArgumentError(
            absl::StrCat("the title of type \"", m.type, "\" renders empty: pass its template variables in data"));
      }
      m.created_at_ms = m.updated_at_ms = now_ms;
      item_slot[i] = static_cast<int>(slots.size());
      // Like a row inserted one by one (updated now), it takes the group's later events.
      if (!ev.group_key.empty() && window > absl::ZeroDuration()) group_slot[{ev.recipient_id, ev.group_key}] = slots.size();
      slots.push_back(Slot{m, true, true, in.dedupe_key});
      res[i].outcome = Outcome::kCreated;
      res[i].notification = std::move(m);
    }

    // 6. Writes: new rows in one INSERT, collapsed existing rows in one UPDATE, then the dedupe keys'
    // links.
    std::vector<size_t> fresh_slots;
    std::vector<NewRow> new_rows;
    std::vector<const Notification*> collapsed_rows;
    for (size_t s = 0; s < slots.size(); ++s) {
      if (slots[s].fresh) {
        fresh_slots.push_back(s);
        new_rows.push_back(NewRow{&slots[s].n, slots[s].dedupe_key});
      } else if (slots[s].changed) {
        collapsed_rows.push_back(&slots[s].n);
      }
    }
    if (!new_rows.empty()) {
      const std::vector<int64_t> ids = InsertRows(tx, new_rows);
      for (size_t k = 0; k < fresh_slots.size(); ++k) slots[fresh_slots[k]].n.id = ids[k];
    }
    if (!collapsed_rows.empty()) UpdateCollapsedRows(tx, collapsed_rows);
    for (size_t i = 0; i < n; ++i) {
      if (item_slot[i] >= 0 && res[i].notification) res[i].notification->id = slots[item_slot[i]].n.id;
    }
    {
      std::vector<std::string> users, keys;
      std::vector<int64_t> ids;
      for (size_t i = 0; i < n; ++i) {
        if (!stores(i) || inputs[i].dedupe_key.empty()) continue;
        users.push_back(inputs[i].event.recipient_id);
        keys.push_back(inputs[i].dedupe_key);
        ids.push_back(res[i].notification->id);
      }
      LinkDedupeKeys(tx, users, keys, ids);
    }

    // 7. Counters, after the rows: +created per recipient in one upsert (sorted), read for the
    // recipients with nothing created. Each item's count is what it was right after that item.
    std::map<std::string, int64_t> created;
    for (size_t i = 0; i < n; ++i) {
      if (live[i]) created[inputs[i].event.recipient_id] += res[i].outcome == Outcome::kCreated ? 1 : 0;
    }
    if (!created.empty()) {
      std::map<std::string, int64_t> running = BumpCounters(tx, created);  // before the batch's first item
      for (size_t i = 0; i < n; ++i) {
        if (!live[i]) continue;
        int64_t& count = running[inputs[i].event.recipient_id];
        if (res[i].outcome == Outcome::kCreated) ++count;
        res[i].unread = count;
        results[i] = std::move(res[i]);
      }
    }
    return results;
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
