// Notification templates: "{placeholder}" substitution for titles, bodies and deep links.
//
// Placeholders are {name} with name made of letters, digits and '_'. Braces are reserved: a
// template with an unbalanced or empty brace pair is invalid (RegisterType rejects it). Rendering
// replaces every placeholder with its variable, or with "" when there is none, so a template never
// fails at run time. Variables (TemplateVars): the request's data keys, then
//   actor      "Ana" / "Ana and Bo" / "Ana and 3 others" (from the collapsed actors and count)
//   actorName  the latest actor's name (its id when the name is empty); actorId
//   count      events collapsed into the notification; others = count - 1
//   entityType, entityId
// The built-in names win over data keys of the same name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/notification/model.h"

namespace sb::notification {

inline constexpr size_t kMaxTemplateBytes = 1000;

// OK for a well-formed template of at most kMaxTemplateBytes UTF-8 bytes; `field` names it in errors.
absl::Status ValidateTemplate(const std::string& text, const std::string& field);

// Substitutes the placeholders of a (valid) template; unknown names become "".
std::string Render(const std::string& text, const std::map<std::string, std::string>& vars);

// "Ana", "Ana and Bo" (2 events by 2 actors), "Ana and 3 others" (4 events).
std::string ActorPhrase(const std::vector<Actor>& actors, int64_t count);

std::map<std::string, std::string> TemplateVars(const Notification& n);

// Fills n.title, n.body and n.deep_link from the type's templates (deep_link_override, when not
// empty, replaces the deep-link template's result).
void RenderInto(const NotificationType& type, const std::string& deep_link_override, Notification& n);

// `actor` first, then the previous actors without it, capped at kMaxActors.
std::vector<Actor> MergeActors(const Actor& actor, const std::vector<Actor>& previous);

}  // namespace sb::notification
