//! The members function as an end user's token reaches it (`events/members/me.json`: the
//! authorizer's context names the member): its own member only.

mod common;

use common::*;
use testkit::events;

#[tokio::test]
async fn an_end_user_reads_its_own_member_and_no_other() {
    let c = Caller::admin().await;
    assert_eq!(c.create(member("user_12345")).await.0, 201);
    assert_eq!(c.create(member("someone_else")).await.0, 201);
    let as_user = |event| events::as_end_user(event, &c.account, "live", "user_12345");
    let send = |event: serde_json::Value| {
        let request = events::request(&event);
        async { events::parse(c.app.handle(request).await) }
    };

    let (status, me) = send(as_user(events::load("members/me.json"))).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["data"]["externalId"], "user_12345");
    let own = events::load("members/get.json");
    assert_eq!(send(as_user(own)).await.0, 200);
    let other = events::with_path_param(events::load("members/get.json"), "id", "someone_else");
    let (status, body) = send(as_user(other)).await;
    assert_eq!(status, 404, "{body}");
    let other_rewards = events::with_path_param(
        events::load("members/reward-log.json"),
        "id",
        "someone_else",
    );
    assert_eq!(send(as_user(other_rewards)).await.0, 404);
    // Writes and lists are an admin's.
    let (status, body) = send(as_user(events::load("members/list.json"))).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        send(as_user(events::load("members/delete.json"))).await.0,
        403
    );
    assert_eq!(c.stored_count().await, 2);
    // An end-user context without its member is not an end user.
    let mut broken = as_user(events::load("members/me.json"));
    broken["requestContext"]["authorizer"]["lambda"]["externalId"] = "".into();
    assert_eq!(send(broken).await.0, 401);
}
