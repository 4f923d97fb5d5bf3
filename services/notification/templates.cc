#include "services/notification/templates.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "sb/bus/channels.h"

namespace sb::notification {
namespace {

bool IsNameChar(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_'; }

const std::string& NameOf(const Actor& a) { return a.name.empty() ? a.id : a.name; }

}  // namespace

absl::Status ValidateTemplate(const std::string& text, const std::string& field) {
  if (text.size() > kMaxTemplateBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", text.size(), " bytes, at most ", kMaxTemplateBytes));
  }
  if (!sb::bus::IsValidUtf8(text)) return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') return absl::InvalidArgumentError(absl::StrCat(field, ": '}' without '{' at byte ", i));
    if (text[i] != '{') continue;
    size_t close = text.find('}', i + 1);
    if (close == std::string::npos) return absl::InvalidArgumentError(absl::StrCat(field, ": unclosed '{' at byte ", i));
    if (close == i + 1) return absl::InvalidArgumentError(absl::StrCat(field, ": empty placeholder at byte ", i));
    for (size_t j = i + 1; j < close; ++j) {
      if (!IsNameChar(text[j])) {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ": placeholder names are letters, digits and '_' (byte ", j, ")"));
      }
    }
    i = close;
  }
  return absl::OkStatus();
}

std::string Render(const std::string& text, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size() + 32);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') {
      out += text[i];
      continue;
    }
    size_t close = text.find('}', i + 1);
    if (close == std::string::npos) {  // templates are validated when stored; stay total anyway
      out.append(text, i, std::string::npos);
      break;
    }
    auto it = vars.find(text.substr(i + 1, close - i - 1));
    if (it != vars.end()) out += it->second;
    i = close;
  }
  return out;
}

std::string ActorPhrase(const std::vector<Actor>& actors, int64_t count) {
  if (actors.empty()) return count > 1 ? absl::StrCat(count, " people") : std::string("Someone");
  const std::string& first = NameOf(actors[0]);
  if (count <= 1) return first;
  if (count == 2 && actors.size() >= 2) return absl::StrCat(first, " and ", NameOf(actors[1]));
  const int64_t others = count - 1;
  return absl::StrCat(first, " and ", others, others == 1 ? " other" : " others");
}

std::map<std::string, std::string> TemplateVars(const Notification& n) {
  std::map<std::string, std::string> vars = n.data;
  vars["actor"] = ActorPhrase(n.actors.empty() ? std::vector<Actor>{n.actor} : n.actors, n.count);
  vars["actorName"] = NameOf(n.actor);
  vars["actorId"] = n.actor.id;
  vars["count"] = absl::StrCat(n.count);
  vars["others"] = absl::StrCat(n.count - 1);
  vars["entityType"] = n.entity_type;
  vars["entityId"] = n.entity_id;
  return vars;
}

void RenderInto(const NotificationType& type, const std::string& deep_link_override, Notification& n) {
  const auto vars = TemplateVars(n);
  n.title = Render(type.title_template, vars);
  n.body = Render(type.body_template, vars);
  n.deep_link = deep_link_override.empty() ? Render(type.deep_link_template, vars) : deep_link_override;
}

std::vector<Actor> MergeActors(const Actor& actor, const std::vector<Actor>& previous) {
  std::vector<Actor> out{actor};
  for (const auto& a : previous) {
    if (out.size() >= kMaxActors) break;
    if (a.id != actor.id) out.push_back(a);
  }
  return out;
}

}  // namespace sb::notification
