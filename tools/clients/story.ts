// The same story through openapi-fetch with the types openapi-typescript generated from
// openapi.yaml (`api.d.ts`, written beside this file by scripts/clients-check.sh). `tsc --strict`
// checks every path, parameter, body and answer against the spec; then node runs it against
// `make run`'s program. Environment: LOCAL_BASE, LOCAL_KEYS.
import createClient from "openapi-fetch";
import type { paths } from "./api.js";

const keys = JSON.parse(process.env.LOCAL_KEYS ?? "{}") as { apiKey: string; apiSecret: string };
const client = createClient<paths>({
  baseUrl: process.env.LOCAL_BASE,
  headers: { "x-api-key": keys.apiKey, "x-api-secret": keys.apiSecret },
});
const run = Math.random().toString(16).slice(2, 8);
const user = `ts_user_${run}`;

function check(ok: unknown, what: string): asserts ok {
  if (!ok) throw new Error(`failed: ${what}`);
}

async function eventually<T>(what: string, read: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 75; i++) {
    const value = await read();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function main() {
  const hook = await client.POST("/v1/webhooks/endpoints", { body: { url: "http://127.0.0.1:9/hooks" } });
  check(hook.response.status === 201 && hook.data?.data.secret, "webhook endpoint");

  const tracked = await client.POST("/v1/user-journeys/users", { body: { externalId: user, displayName: "Jane Doe", country: "NG" } });
  check(tracked.data?.data.lifecycleStage === "new", "track-user");
  const member = await client.POST("/schema/account_user/record", {
    body: { externalId: `ts_ada_${run}`, status: "live", tags: { plan: "premium" } },
  });
  check(member.response.status === 201 && member.data, "create member");
  const patched = await client.PATCH("/schema/account_user/record/{id}", {
    params: { path: { id: member.data.data.id } },
    body: { displayName: "Ada L.", tags: null },
  });
  check(patched.data?.data.displayName === "Ada L." && patched.data.data.tags === null, "patch member");

  const board = await client.POST("/schema/leaderboard/record", {
    body: { name: `Top ${run}`, status: "live", metric: "points", period: "weekly" },
  });
  const streak = await client.POST("/schema/streak/record", {
    body: { name: `Daily ${run}`, status: "live", completionTargetValue: 7, aggregationTargetValue: 10 },
  });
  check(board.data && streak.data, "board and streak");
  const streakId = streak.data.data.id;
  const milestone = await client.POST("/schema/milestone/record", {
    body: { name: "First day", status: "live", linkedSchemaSlug: "streak", linkedSchemaRecordId: streakId, milestoneTargetValue: 1, rewardPoints: 50 },
  });
  check(milestone.response.status === 201, "milestone");

  const log = { streakId, ownedById: user, activityAt: new Date().toISOString(), uniqueIdentifier: `order-${run}`, activityValue: 12.5 };
  const first = await client.POST("/schema/streak_log/record", { body: log });
  const again = await client.POST("/schema/streak_log/record", { body: log });
  check(first.response.status === 201 && again.response.status === 200 && again.data?.idempotentReplayed === true, "log and replay");

  const progress = await eventually("progress", async () => {
    const { data } = await client.GET("/schema/streak_progress/record", { params: { query: { ownedById: user, streakId } } });
    return data?.data[0];
  });
  check(progress.currentProgressValue === 1 && progress.taskProgress.currentValue === 12.5, "progress");
  const reward = await eventually("reward", async () => {
    const { data } = await client.GET("/schema/reward_log/record", { params: { query: { ownedById: user, linkedSchemaRecordId: streakId } } });
    return data?.data[0];
  });
  check(reward.milestoneId === milestone.data?.data.id, "reward");

  const freeze = await client.POST("/schema/streak_freeze/record", { body: { streakId, ownedById: user, count: 1, uniqueIdentifier: `freeze-${run}` } });
  check(freeze.data?.data.count === 1, "freeze");
  await eventually("the credit", async () => {
    const { data } = await client.GET("/schema/account_user/record/{id}", { params: { path: { id: user } } });
    return data?.data.pointsBalance === 50 ? data : undefined;
  });
  const spend = await client.POST("/schema/points_log/record", { body: { ownedById: user, amount: -20, reason: "coffee", uniqueIdentifier: `spend-${run}` } });
  check(spend.data?.data.amount === -20, "spend");
  const overdraw = await client.POST("/schema/points_log/record", { body: { ownedById: user, amount: -1000, uniqueIdentifier: `big-${run}` } });
  check(overdraw.response.status === 409 && overdraw.error?.error.code === "insufficient_points", "overdraw refused");

  const boardId = board.data.data.id;
  const standings = await eventually("standings", async () => {
    const { data } = await client.GET("/schema/leaderboard/record/{id}/rankings", { params: { path: { id: boardId } } });
    return data?.data.rankings.length ? data.data : undefined;
  });
  check(standings.rankings[0]?.externalId === user && standings.rankings[0].value === 50, "standings");
  const rank = await client.GET("/schema/leaderboard/record/{id}/rankings/{memberId}", { params: { path: { id: boardId, memberId: user }, query: { around: 2 } } });
  check(rank.data?.data.rank === 1 && rank.data.data.percentile === 100, "member rank");

  const profile = await client.GET("/v1/user-journeys/users/{externalId}", { params: { path: { externalId: user } } });
  check(profile.data?.data.totalPlays === 1 && profile.data.data.pointsBalance === 30, "profile");
  const deliveries = await client.GET("/v1/webhooks/endpoints/{id}/deliveries", { params: { path: { id: hook.data.data.id } } });
  check(deliveries.data?.data.some((d) => d.eventType === "member.created"), "deliveries");
  console.log("typescript client story: passed");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
