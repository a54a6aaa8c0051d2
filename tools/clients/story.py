"""The README's quick start story, and the routes added since, driven through the Python client
that openapi-python-client generated from openapi.yaml: every call is the generated function, every
answer the generated model. Run by scripts/clients-check.sh against `make run`'s program:

    python story.py <folder holding the generated package gamify_client>

Environment: LOCAL_BASE, LOCAL_KEYS ({"apiKey", "apiSecret", "publicKey"}), LOCAL_ACCOUNT.
"""

import datetime as dt
import json
import os
import sys
import uuid

sys.path.insert(0, sys.argv[1])
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "docs", "examples"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "lib"))

from enduser_token import enduser_token  # noqa: E402  (the README's token example)
from harness import WebhookReceiver, eventually  # noqa: E402
from gamify_client import AuthenticatedClient  # noqa: E402
from gamify_client.api.end_users import get_me  # noqa: E402
from gamify_client.api.leaderboards import create_leaderboard, get_member_rank, get_rankings  # noqa: E402
from gamify_client.api.logs import create_challenge_log, create_streak_freeze, create_streak_log  # noqa: E402
from gamify_client.api.members import create_member, get_member, list_members, update_member  # noqa: E402
from gamify_client.api.points import create_points_entry  # noqa: E402
from gamify_client.api.programs import create_challenge, create_milestone, create_streak  # noqa: E402
from gamify_client.api.progress import list_rewards, list_streak_progress  # noqa: E402
from gamify_client.api.track_user import get_tracked_user, record_journey_event, track_user  # noqa: E402
from gamify_client.api.webhooks import create_webhook_endpoint, list_webhook_deliveries  # noqa: E402
from gamify_client.models import (  # noqa: E402
    ChallengeFields, ChallengeLogInput, Error, JourneyEventInput, LeaderboardFields, LeaderboardFieldsMetric,
    LeaderboardFieldsPeriod, MemberFields, MilestoneFields, MilestoneFieldsLinkedSchemaSlug, PointsEntryInput,
    Status, StreakFields, StreakFreezeInput, StreakLogInput, Tags, TrackedMember, TrackUserInput, WebhookEndpointInput,
)

BASE = os.environ["LOCAL_BASE"]
KEYS = json.loads(os.environ["LOCAL_KEYS"])
RUN = uuid.uuid4().hex[:6]
steps = []


def step(name):
    steps.append(name)
    print(f"ok   {name}")


def answer(response, status):
    """The parsed model of an answer that must have this status."""
    assert response.status_code == status, f"{response.status_code}: {response.content[:400]!r}"
    assert response.parsed is not None, "the client could not read the answer"
    assert not isinstance(response.parsed, Error) or status >= 400, response.parsed
    return response.parsed


def main():
    # The secret key pair: x-api-key as the "token", x-api-secret beside it.
    client = AuthenticatedClient(base_url=BASE, token=KEYS["apiKey"], prefix="", auth_header_name="x-api-key",
                                 headers={"x-api-secret": KEYS["apiSecret"]})
    receiver = WebhookReceiver()
    user = f"user_{RUN}"

    # 0. A webhook endpoint
    endpoint = answer(create_webhook_endpoint.sync_detailed(client=client, body=WebhookEndpointInput(
        url=receiver.url)), 201).data
    assert endpoint.secret.startswith("whsec_"), endpoint.secret
    step("webhook endpoint")

    # 1. A first member through track-user, then the account_user routes: create, PATCH
    profile = answer(track_user.sync_detailed(client=client, body=TrackUserInput(
        external_id=user, display_name="Jane Doe", country="NG")), 200)
    assert profile.data.engagement_score == 0 and profile.data.lifecycle_stage.value == "new", profile.data
    tags = Tags.from_dict({"plan": "premium"})
    created = answer(create_member.sync_detailed(client=client, body=MemberFields(
        external_id=f"ada_{RUN}", status=Status.LIVE, first_name="Ada", tags=tags)), 201).data
    assert created.tags.additional_properties == {"plan": "premium"}
    patched = answer(update_member.sync_detailed(created.id, client=client, body=MemberFields(
        display_name="Ada L.", tags=None)), 200).data
    assert patched.display_name == "Ada L." and patched.tags is None, patched
    listed = answer(list_members.sync_detailed(client=client, external_id=f"ada_{RUN}"), 200)
    assert [m.id for m in listed.data] == [created.id]
    step("member: track-user, create, patch, list")

    # 2. A streak, a milestone on it and a weekly points board
    board = answer(create_leaderboard.sync_detailed(client=client, body=LeaderboardFields(
        name=f"Top earners {RUN}", status=Status.LIVE, metric=LeaderboardFieldsMetric.POINTS,
        period=LeaderboardFieldsPeriod.WEEKLY)), 201).data
    streak = answer(create_streak.sync_detailed(client=client, body=StreakFields(
        name=f"Daily purchase {RUN}", status=Status.LIVE, completion_target_value=7,
        aggregation_target_value=10, max_freezes=2)), 201).data
    milestone = answer(create_milestone.sync_detailed(client=client, body=MilestoneFields(
        name="First day", status=Status.LIVE, linked_schema_slug=MilestoneFieldsLinkedSchemaSlug.STREAK,
        linked_schema_record_id=streak.id, milestone_target_value=1, reward_points=50)), 201).data
    assert milestone.linked_schema_record_id == streak.id and milestone.reward_points == 50
    step("streak, milestone, leaderboard")

    # 3. A log, and the same log again (a replay: 200, counted once)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    log = StreakLogInput(streak_id=streak.id, owned_by_id=user, activity_at=now, unique_identifier=f"order-{RUN}",
                         activity_value=12.5)
    first = answer(create_streak_log.sync_detailed(client=client, body=log), 201)
    again = answer(create_streak_log.sync_detailed(client=client, body=log), 200)
    assert again.idempotent_replayed is True and again.data.id == first.data.id
    answer(record_journey_event.sync_detailed(client=client, body=JourneyEventInput(
        event_id=f"evt-{RUN}", external_id=user, event_type="app_open")), 201)
    step("streak log (and its replay), user-journey event")

    # 4. Progress, the reward and the profile, from the stream
    run = eventually("progress", lambda: answer(list_streak_progress.sync_detailed(
        client=client, owned_by_id=user, streak_id=streak.id), 200).data)[0]
    assert run.current_progress_value == 1 and run.streak_progress_status.value == "in_progress", run
    assert run.task_progress.current_value == 12.5 and run.task_progress.target_value == 10, run.task_progress
    reward = eventually("the reward", lambda: answer(list_rewards.sync_detailed(
        client=client, owned_by_id=user, linked_schema_record_id=streak.id), 200).data)[0]
    assert reward.milestone_id == milestone.id and reward.coupon_code is None
    profile = eventually("the event counted", lambda: (p := answer(get_tracked_user.sync_detailed(
        user, client=client), 200).data).total_events == 2 and p)
    assert profile.total_plays == 1 and profile.total_events == 2 and profile.points_earned_7_d == 50, profile
    step("progress, reward, profile")

    # 4b. A freeze grant; 4c. a challenge log whose ownedBy creates the member in the same call
    freeze = answer(create_streak_freeze.sync_detailed(client=client, body=StreakFreezeInput(
        streak_id=streak.id, owned_by_id=user, count=1, unique_identifier=f"freeze-{RUN}")), 201).data
    assert freeze.count == 1
    challenge = answer(create_challenge.sync_detailed(client=client, body=ChallengeFields(
        name=f"Ten a week {RUN}", status=Status.LIVE, completion_target_value=10)), 201).data
    answer(create_challenge_log.sync_detailed(client=client, body=ChallengeLogInput(
        challenge_id=challenge.id, owned_by=TrackedMember(external_id=f"grace_{RUN}", display_name="Grace"),
        activity_at=now, unique_identifier=f"ex-{RUN}", activity_value=4)), 201)
    grace = answer(get_member.sync_detailed(f"grace_{RUN}", client=client), 200).data
    assert grace.display_name == "Grace"
    step("freeze grant, challenge log with ownedBy")

    # 4c. Points: the reward's 50 credited, a spend of 20; a spend above the balance is 409
    eventually("the reward's credit", lambda: answer(get_member.sync_detailed(user, client=client), 200).data.points_balance == 50)
    spend = answer(create_points_entry.sync_detailed(client=client, body=PointsEntryInput(
        owned_by_id=user, amount=-20, reason="coffee", unique_identifier=f"spend-{RUN}")), 201).data
    assert spend.amount == -20
    refused = answer(create_points_entry.sync_detailed(client=client, body=PointsEntryInput(
        owned_by_id=user, amount=-1000, unique_identifier=f"spend-big-{RUN}")), 409)
    assert isinstance(refused, Error) and refused.error.code.value == "insufficient_points", refused
    assert answer(get_member.sync_detailed(user, client=client), 200).data.points_balance == 30
    step("points: credit, spend, refused overdraw")

    # 4d. The week's standings and the member's rank
    standings = eventually("the board", lambda: answer(get_rankings.sync_detailed(board.id, client=client), 200).data)
    top = standings.rankings[0]
    assert top.external_id == user and top.value == 50 and top.rank == 1, standings
    rank = answer(get_member_rank.sync_detailed(board.id, user, client=client, around=2), 200).data
    assert rank.rank == 1 and rank.percentile == 100, rank
    step("standings, member rank")

    # The end user's own reads, with a token minted as the README shows
    token = enduser_token(KEYS["apiKey"], KEYS["apiSecret"], os.environ["LOCAL_ACCOUNT"], user)
    me_client = AuthenticatedClient(base_url=BASE, token=token, prefix="", auth_header_name="x-enduser-access-token",
                                    headers={"x-account-id": os.environ["LOCAL_ACCOUNT"]})
    me = answer(get_me.sync_detailed(client=me_client), 200).data
    assert me.external_id == user and me.points_balance == 30, me
    step("/v1/me with an end-user token")

    # 5. The events the endpoint received, and its delivery log
    seen = eventually("member.created and reward_log.created", lambda: {e["type"] for e in receiver.events}
                      >= {"member.created", "reward_log.created"} and {e["type"] for e in receiver.events})
    deliveries = answer(list_webhook_deliveries.sync_detailed(endpoint.id, client=client), 200).data
    assert {d.event_type for d in deliveries} >= {"member.created", "reward_log.created"}, deliveries
    assert all(d.status.value in ("succeeded", "pending") for d in deliveries)
    step(f"webhooks: received {sorted(seen)}")
    print(f"python client story: {len(steps)} steps passed")


if __name__ == "__main__":
    main()
