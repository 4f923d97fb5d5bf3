// Templates, actor phrases and quiet hours: pure functions, no servers.
#include <catch2/catch.hpp>

#include "absl/time/civil_time.h"
#include "services/notification/preferences.h"
#include "services/notification/templates.h"

using namespace sb::notification;

TEST_CASE("templates validate placeholders and render with variables", "[notification]") {
  CHECK(ValidateTemplate("{actor} liked your post", "title").ok());
  CHECK(ValidateTemplate("no placeholders", "title").ok());
  CHECK(absl::IsInvalidArgument(ValidateTemplate("{actor liked", "title")));
  CHECK(absl::IsInvalidArgument(ValidateTemplate("actor} liked", "title")));
  CHECK(absl::IsInvalidArgument(ValidateTemplate("{} liked", "title")));
  CHECK(absl::IsInvalidArgument(ValidateTemplate("{act or}", "title")));
  CHECK(absl::IsInvalidArgument(ValidateTemplate(std::string(kMaxTemplateBytes + 1, 'a'), "title")));
  CHECK(absl::IsInvalidArgument(ValidateTemplate("\xff", "title")));

  CHECK(Render("{actor} liked {what}{missing}!", {{"actor", "Ana"}, {"what", "your post"}}) == "Ana liked your post!");
}

TEST_CASE("actor phrases for collapsed notifications", "[notification]") {
  Actor ana{"u1", "Ana", ""}, bo{"u2", "", ""};
  CHECK(ActorPhrase({ana}, 1) == "Ana");
  CHECK(ActorPhrase({ana, bo}, 2) == "Ana and u2");  // no name: the id
  CHECK(ActorPhrase({ana, bo}, 4) == "Ana and 3 others");
  CHECK(ActorPhrase({ana}, 2) == "Ana and 1 other");  // the same actor twice

  Notification n;
  n.actor = ana;
  n.actors = {ana, bo};
  n.count = 4;
  n.entity_id = "p1";
  n.data = {{"preview", "hi"}, {"actor", "spoofed"}};
  NotificationType type{"post_like", "{actor} liked your post", "{preview}", "/posts/{entityId}", true, true, true};
  RenderInto(type, "", n);
  CHECK(n.title == "Ana and 3 others liked your post");  // built-in variables win over data
  CHECK(n.body == "hi");
  CHECK(n.deep_link == "/posts/p1");
  RenderInto(type, "app://override", n);
  CHECK(n.deep_link == "app://override");

  auto merged = MergeActors(bo, {ana, bo, Actor{"u3"}, Actor{"u4"}});
  REQUIRE(merged.size() == kMaxActors);
  CHECK(merged[0].id == "u2");
  CHECK(merged[1].id == "u1");
  CHECK(merged[2].id == "u3");
}

TEST_CASE("quiet hours are computed in the user's time zone", "[notification]") {
  CHECK(*ParseClock("22:00") == 22 * 60);
  CHECK(*ParseClock("07:05") == 7 * 60 + 5);
  CHECK(!ParseClock("24:00").ok());
  CHECK(!ParseClock("7:00").ok());
  CHECK(!ParseClock("07-00").ok());
  CHECK(FormatClock(7 * 60 + 5) == "07:05");

  Preferences p;
  p.quiet_hours = QuietHours{true, 22 * 60, 7 * 60};  // spans midnight
  p.time_zone = "America/New_York";
  absl::TimeZone ny;
  REQUIRE(absl::LoadTimeZone("America/New_York", &ny));
  auto at = [&](int h, int m) { return absl::FromCivil(absl::CivilMinute(2024, 1, 15, h, m), ny); };
  CHECK(InQuietHours(p, at(23, 0)));
  CHECK(InQuietHours(p, at(3, 0)));
  CHECK(InQuietHours(p, at(22, 0)));
  CHECK_FALSE(InQuietHours(p, at(7, 0)));
  CHECK_FALSE(InQuietHours(p, at(12, 0)));
  // 12:00 in New York is 17:00 UTC: a UTC user with the same window is not quiet either, but
  // 03:00 New York (08:00 UTC) is quiet only for the New York user.
  Preferences utc = p;
  utc.time_zone = "UTC";
  CHECK_FALSE(InQuietHours(utc, at(3, 0)));

  Preferences day = p;
  day.quiet_hours = QuietHours{true, 9 * 60, 17 * 60};
  CHECK(InQuietHours(day, at(9, 0)));
  CHECK_FALSE(InQuietHours(day, at(17, 0)));
  day.quiet_hours.enabled = false;
  CHECK_FALSE(InQuietHours(day, at(10, 0)));

  CHECK(ValidateTimeZone("Europe/Paris").ok());
  CHECK(absl::IsInvalidArgument(ValidateTimeZone("Mars/Olympus")));
  CHECK(absl::IsInvalidArgument(ValidateTimeZone("")));
}

TEST_CASE("type toggles fall back to the type's default", "[notification]") {
  NotificationType story{"story_view", "t", "", "", false, false, true};
  NotificationType like{"post_like", "t", "", "", true, true, true};
  Preferences p;
  CHECK_FALSE(TypeEnabled(p, story));
  CHECK(TypeEnabled(p, like));
  p.type_overrides = {{"story_view", true}, {"post_like", false}};
  CHECK(TypeEnabled(p, story));
  CHECK_FALSE(TypeEnabled(p, like));
}
