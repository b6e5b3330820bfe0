package io.faultline.predict;

import io.faultline.testing.Payloads;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.IntToDoubleFunction;

/**
 * The scripted scenarios of the prediction suite: per minute of a replayed timeline, the LiteLLM payloads one
 * deployment produces, with the rate-limit headers each provider sends (shapes of ../shared/provider-wire/:
 * OpenAI {@code x-ratelimit-*} with Go-duration resets, Anthropic {@code anthropic-ratelimit-*} with RFC 3339
 * resets, Gemini none). Every scenario is seeded, so a run is reproducible. Failing scenarios name the failure type
 * they end in; benign ones must not be predicted to fail.
 */
final class PredictionScenarios {

    /** Minutes of normal traffic before any scenario departs from it (the passive baselines learn from these). */
    static final int WARMUP = 30;
    /** The minute the last calls are sent. */
    static final int END = 70;

    /**
     * A scenario: one deployment's script, or (provider level) the scripts of several deployments of one provider.
     * {@code expected} is the failure type it ends in, null for a benign one; {@code providerWide} says that the
     * provider level must announce it (a provider-level prediction that is a hit); a provider-level scenario that is
     * not provider-wide must get no provider-level prediction at all.
     */
    record Scenario(String name, String provider, String expected, String description, List<Script> members,
            boolean providerWide) {

        Scenario(String name, String provider, String expected, String description, Script script) {
            this(name, provider, expected, description, List.of(script), false);
        }

        boolean providerLevel() {
            return members.size() > 1;
        }

        /** Its deployments, in member order. */
        List<String> deployments(String run) {
            if (!providerLevel()) {
                return List.of("pred-" + name + "-" + run);
            }
            List<String> out = new ArrayList<>();
            for (int i = 0; i < members.size(); i++) {
                out.add("pred-" + name + "-" + run + "-" + i);
            }
            return out;
        }
    }

    /** The calls of one minute. */
    interface Script {
        List<Payloads> minute(int m, Instant minuteStart, Random rnd, String deployment);
    }

    private PredictionScenarios() {
    }

    static List<Scenario> all() {
        List<Scenario> s = new ArrayList<>();
        // Failing: headroom draining to zero with the reset far away, then 429s.
        s.add(new Scenario("openai_tokens_drain", "openai", "rate_limit",
                "x-ratelimit-remaining-tokens drains from minute 35 to zero at 55; reset in hours",
                drain("openai", "tokens", 200_000, 35, 55, 12, false)));
        s.add(new Scenario("openai_requests_drain", "openai", "rate_limit",
                "x-ratelimit-remaining-requests drains from minute 38 to zero at 58",
                drain("openai", "requests", 10_000, 38, 58, 12, false)));
        s.add(new Scenario("anthropic_tokens_drain", "anthropic", "rate_limit",
                "anthropic-ratelimit-tokens-remaining drains from minute 36 to zero at 52",
                drain("anthropic", "tokens", 400_000, 36, 52, 12, false)));
        s.add(new Scenario("anthropic_input_tokens_drain", "anthropic", "rate_limit",
                "anthropic-ratelimit-input-tokens-remaining drains with jittery consumption to zero at 56",
                drain("anthropic", "input-tokens", 300_000, 38, 56, 12, true)));
        s.add(new Scenario("anthropic_requests_drain_fast", "anthropic", "rate_limit",
                "anthropic-ratelimit-requests-remaining drains in 12 minutes (40 to 52)",
                drain("anthropic", "requests", 4_000, 40, 52, 12, false)));
        s.add(new Scenario("openai_tokens_drain_accelerating", "openai", "rate_limit",
                "token consumption grows steadily from minute 35; headroom gone at 57",
                acceleratingDrain(200_000, 35, 57)));
        // Failing: latency ramps up to the timeout.
        s.add(new Scenario("openai_latency_ramp", "openai", "timeout",
                "latency ramps linearly from minute 35 and reaches the 60 s timeout around 60",
                latencyRamp("openai", 35, 60, false)));
        s.add(new Scenario("anthropic_latency_ramp", "anthropic", "timeout",
                "latency grows exponentially from minute 38 and reaches the timeout around 60",
                latencyRamp("anthropic", 38, 60, true)));
        s.add(new Scenario("gemini_latency_ramp", "gemini", "timeout",
                "latency ramps linearly from minute 40 to the timeout around 62",
                latencyRamp("gemini", 40, 62, false)));
        // Failing: errors accelerate, 529 share rises, 429 share rises without headers.
        s.add(new Scenario("openai_error_acceleration", "openai", "outage",
                "500 share doubles every 3 minutes from 0.5% at minute 35",
                rising("openai", 30, m -> m < 35 ? 0 : 0.005 * Math.pow(2, (m - 35) / 3.0), 500,
                        "InternalServerError", "The server had an error while processing your request.")));
        // Gemini's 503 UNAVAILABLE "The model is overloaded" is an overload, for the classifier as for the predictor.
        s.add(new Scenario("gemini_overload_acceleration", "gemini", "overloaded",
                "503 UNAVAILABLE \"The model is overloaded\" share doubles every 3.5 minutes from 0.5% at minute 36",
                rising("gemini", 30, m -> m < 36 ? 0 : 0.005 * Math.pow(2, (m - 36) / 3.5), 503,
                        "ServiceUnavailableError", "The model is overloaded. Please try again later. UNAVAILABLE")));
        s.add(new Scenario("anthropic_529_rising", "anthropic", "overloaded",
                "529 overloaded_error share rises linearly from 0 at minute 35 to 40% at 65",
                rising("anthropic", 30, m -> m < 35 ? 0 : 0.4 * (m - 35) / 30.0, 529, "InternalServerError",
                        "AnthropicException - {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                                + "\"message\":\"Overloaded\"}}")));
        s.add(new Scenario("anthropic_529_surge", "anthropic", "overloaded",
                "529 share doubles every 3 minutes from 1% at minute 38",
                rising("anthropic", 30, m -> m < 38 ? 0 : 0.01 * Math.pow(2, (m - 38) / 3.0), 529,
                        "InternalServerError", "AnthropicException - overloaded_error: Overloaded")));
        s.add(new Scenario("gemini_429_rising", "gemini", "rate_limit",
                "RESOURCE_EXHAUSTED share (no headers) rises linearly from minute 36 to 40% at 66",
                rising("gemini", 30, m -> m < 36 ? 0 : 0.4 * (m - 36) / 30.0, 429, "RateLimitError",
                        "Resource has been exhausted (e.g. check quota). RESOURCE_EXHAUSTED")));
        // Benign: must not be predicted to fail.
        s.add(new Scenario("noise_openai", "openai", null,
                "ordinary noise: lognormal latency, 1% random 500s, per-minute request headroom that refills",
                noise("openai", 20, 0.01, 500)));
        s.add(new Scenario("noise_anthropic", "anthropic", null,
                "ordinary noise with Anthropic headers and 1% random 529s",
                noise("anthropic", 20, 0.01, 529)));
        s.add(new Scenario("daily_load_swing", "openai", null,
                "load swings 6 to 20 calls a minute (a day compressed into an hour); latency follows load by 25%",
                dailySwing()));
        s.add(new Scenario("one_slow_call", "openai", null, "normal traffic with one 45 s answer at minute 50",
                oneSlowCall()));
        s.add(new Scenario("headroom_resets_first", "anthropic", null,
                "tokens drain toward zero at minute 55 but the window resets at 50 (and again before the next drain)",
                resetsFirst("anthropic")));
        s.add(new Scenario("headroom_resets_first_openai", "openai", null,
                "OpenAI tokens drain toward zero but x-ratelimit-reset-tokens says the window refills first",
                resetsFirst("openai")));
        s.add(new Scenario("single_500", "openai", null, "normal traffic with one 500 at minute 45",
                single500()));
        s.add(new Scenario("slow_drain_far_away", "openai", null,
                "headroom drains 0.4% a minute: zero is hours away, far beyond the horizon",
                drain("openai", "tokens", 200_000, 0, 250, 12, false)));
        s.add(new Scenario("latency_bump_recovers", "openai", null,
                "latency rises 60% for four minutes (45 to 48), then returns to normal",
                latencyBump()));
        // Provider level: several deployments of one provider (named for the scenario, so that its provider level
        // is its own; the scenarios above share openai, anthropic and gemini, so that the provider level over them
        // is itself checked: one deployment failing among many must not be called provider-wide).
        s.add(providerLevel("org_529_spread", "anthropic-org-overload", "overloaded", true,
                "3 deployments, 8 calls a minute each: the 529 share rises on all of them from minute 35 to 40% at 65",
                3, rising("anthropic", 8, m -> m < 35 ? 0 : 0.4 * (m - 35) / 30.0, 529, "InternalServerError",
                        "AnthropicException - {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                                + "\"message\":\"Overloaded\"}}")));
        s.add(providerLevel("org_500_acceleration", "openai-org-outage", "outage", true,
                "3 deployments, 10 calls a minute each: the 500 share doubles every 3 minutes from 0.5% at minute 36",
                3, rising("openai", 10, m -> m < 36 ? 0 : 0.005 * Math.pow(2, (m - 36) / 3.0), 500,
                        "InternalServerError", "The server had an error while processing your request.")));
        s.add(providerLevel("org_shared_tokens", "openai-org-tokens", "rate_limit", true,
                "3 deployments on one organisation's token limit, 4 calls a minute each: it drains from minute 36"
                        + " to zero at 56",
                3, drain("openai", "tokens", 300_000, 36, 56, 4, false)));
        s.add(providerLevel("org_latency_spread", "gemini-org-latency", "timeout", true,
                "3 deployments: latency ramps on all of them from minute 38 to the 60 s timeout around 60",
                3, latencyRamp("gemini", 38, 60, false)));
        List<Script> oneOfThree = List.of(
                rising("openai", 30, m -> m < 35 ? 0 : 0.005 * Math.pow(2, (m - 35) / 3.0), 500,
                        "InternalServerError", "The server had an error while processing your request."),
                noise("openai", 20, 0.01, 500), noise("openai", 20, 0.01, 500));
        s.add(new Scenario("org_one_deployment_outage", "openai-org-one", "outage",
                "3 deployments, the 500s accelerate on one of them only: a deployment's failure, not the provider's",
                oneOfThree.stream().map(script -> asProvider("openai-org-one", script)).toList(), false));
        s.add(providerLevel("org_noise", "anthropic-org-noise", null, false,
                "3 deployments of ordinary noise with 2% random 529s each", 3, noise("anthropic", 20, 0.02, 529)));
        s.add(providerLevel("org_shared_resets_first", "anthropic-org-resets", null, false,
                "3 deployments on one organisation's token limit that drains toward zero but resets first",
                3, resetsFirst("anthropic")));
        s.add(providerLevel("org_daily_swing", "openai-org-swing", null, false,
                "3 deployments under the same daily load swing (latency follows load by 25%)", 3, dailySwing()));
        return s;
    }

    /** A provider-level scenario: {@code n} deployments of the provider {@code stored}, each running {@code script}. */
    private static Scenario providerLevel(String name, String stored, String expected, boolean providerWide,
            String description, int n, Script script) {
        List<Script> members = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            members.add(asProvider(stored, script));
        }
        return new Scenario(name, stored, expected, description, members, providerWide);
    }

    /** The script's calls as LiteLLM logs them for a provider of another name (headers keep their dialect). */
    static Script asProvider(String stored, Script script) {
        return (m, minuteStart, rnd, dep) -> {
            List<Payloads> out = script.minute(m, minuteStart, rnd, dep);
            for (Payloads p : out) {
                p.set("custom_llm_provider", stored);
            }
            return out;
        };
    }

    // ---- building blocks ----------------------------------------------------------------------------------------

    /** Calls evenly spread over a minute with a little jitter. */
    private static List<Instant> times(Instant minuteStart, int n, Random rnd) {
        List<Instant> out = new ArrayList<>(n);
        double gap = 60.0 / n;
        for (int i = 0; i < n; i++) {
            double at = i * gap + rnd.nextDouble() * gap * 0.8;
            out.add(minuteStart.plusMillis((long) (at * 1000)));
        }
        return out;
    }

    /** Lognormal latency around {@code median} seconds. */
    private static double latency(Random rnd, double median) {
        return median * Math.exp(0.25 * rnd.nextGaussian());
    }

    private static Payloads ok(String provider, String deployment, Instant at, double seconds) {
        return Payloads.success(provider, groupOf(deployment), deployment, at).latency(seconds);
    }

    private static Payloads failed(String provider, String deployment, Instant at, int status, String errorClass,
            String message) {
        return Payloads.failure(provider, groupOf(deployment), deployment, at, status, errorClass, message);
    }

    /** Each scenario is its own model group, so that its passive baseline is its own. */
    static String groupOf(String deployment) {
        return "group-" + deployment;
    }

    static String goDuration(Duration d) {
        long s = Math.max(0, d.getSeconds());
        long h = s / 3600;
        long m = (s % 3600) / 60;
        long sec = s % 60;
        return h > 0 ? h + "h" + m + "m" + sec + "s" : m > 0 ? m + "m" + sec + "s" : sec + "s";
    }

    /** Headers of one reading in the provider's dialect ({@code limitType} as Anthropic spells it). */
    private static Payloads headroom(Payloads p, String provider, String limitType, long limit, long remaining,
            Instant at, Instant resetAt) {
        if (provider.equals("anthropic")) {
            String prefix = "anthropic-ratelimit-" + limitType;
            return p.header(prefix + "-limit", String.valueOf(limit))
                    .header(prefix + "-remaining", String.valueOf(Math.max(0, remaining)))
                    .header(prefix + "-reset", resetAt.toString());
        }
        String type = limitType.replace("input-", "");
        return p.header("x-ratelimit-limit-" + type, String.valueOf(limit))
                .header("x-ratelimit-remaining-" + type, String.valueOf(Math.max(0, remaining)))
                .header("x-ratelimit-reset-" + type, goDuration(Duration.between(at, resetAt)));
    }

    private static Instant timelineStart(Instant minuteStart, int m) {
        return minuteStart.minus(Duration.ofMinutes(m));
    }

    /**
     * Headroom that drains slowly (0.4% of the limit a minute) until {@code from}, then linearly to zero at
     * {@code zeroAt}; the window resets three hours after the timeline starts. Once it is empty every call is a 429.
     */
    static Script drain(String provider, String limitType, long limit, int from, int zeroAt, int perMinute,
            boolean jitter) {
        return (m, minuteStart, rnd, dep) -> {
            Instant t0 = timelineStart(minuteStart, m);
            Instant resetAt = t0.plus(Duration.ofHours(3));
            double slow = 0.004 * limit;
            double atFrom = limit - slow * from;
            List<Payloads> out = new ArrayList<>();
            for (Instant at : times(minuteStart, perMinute, rnd)) {
                double minute = Duration.between(t0, at).toMillis() / 60_000.0;
                double remaining = minute < from ? limit - slow * minute
                        : atFrom * (1 - (minute - from) / (zeroAt - from));
                if (jitter) {
                    remaining += rnd.nextGaussian() * 0.01 * limit;
                }
                long left = Math.max(0, Math.round(Math.min(limit, remaining)));
                Payloads p = left == 0
                        ? failed(provider, dep, at, 429, "RateLimitError", provider.equals("anthropic")
                                ? "AnthropicException - {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\"}}"
                                : "Rate limit reached for gpt-4o-mini on tokens per min (TPM)")
                        : ok(provider, dep, at, latency(rnd, 0.8));
                out.add(headroom(p, provider, limitType, limit, left, at, resetAt));
            }
            return out;
        };
    }

    /** Consumption that grows linearly from {@code from}, so remaining falls along a parabola to zero. */
    static Script acceleratingDrain(long limit, int from, int zeroAt) {
        return (m, minuteStart, rnd, dep) -> {
            Instant t0 = timelineStart(minuteStart, m);
            Instant resetAt = t0.plus(Duration.ofHours(3));
            double slow = 0.004 * limit;
            double atFrom = limit - slow * from;
            double span = zeroAt - from;
            List<Payloads> out = new ArrayList<>();
            for (Instant at : times(minuteStart, 12, rnd)) {
                double minute = Duration.between(t0, at).toMillis() / 60_000.0;
                double x = (minute - from) / span;
                // consumed share of atFrom: slow start, then faster (x + x^2) / 2 reaches 1 at x = 1.
                double remaining = minute < from ? limit - slow * minute : atFrom * (1 - (x + x * x) / 2);
                long left = Math.max(0, Math.round(remaining));
                Payloads p = left == 0
                        ? failed("openai", dep, at, 429, "RateLimitError", "Rate limit reached for tokens per min")
                        : ok("openai", dep, at, latency(rnd, 0.8));
                out.add(headroom(p, "openai", "tokens", limit, left, at, resetAt));
            }
            return out;
        };
    }

    /** Latency from a 0.8 s median ramping to 60 s at {@code timeoutAt}; calls past 60 s time out (408). */
    static Script latencyRamp(String provider, int from, int timeoutAt, boolean exponential) {
        return (m, minuteStart, rnd, dep) -> {
            List<Payloads> out = new ArrayList<>();
            for (Instant at : times(minuteStart, 12, rnd)) {
                double minute = m + Duration.between(minuteStart, at).toMillis() / 60_000.0;
                double median = 0.8;
                if (minute >= from) {
                    double x = (minute - from) / (timeoutAt - from);
                    median = exponential ? 0.8 * Math.pow(60 / 0.8, x) : 0.8 + (60 - 0.8) * x;
                }
                double seconds = latency(rnd, median);
                out.add(seconds >= 60
                        ? failed(provider, dep, at, 408, "Timeout", "Request timed out.").latency(60)
                        : ok(provider, dep, at, seconds));
            }
            return out;
        };
    }

    /** A share of calls failing with {@code status} that follows {@code share(minute)}. */
    static Script rising(String provider, int perMinute, IntToDoubleFunction share, int status, String errorClass,
            String message) {
        return (m, minuteStart, rnd, dep) -> {
            List<Payloads> out = new ArrayList<>();
            double p = Math.min(1, share.applyAsDouble(m));
            for (Instant at : times(minuteStart, perMinute, rnd)) {
                out.add(rnd.nextDouble() < p ? failed(provider, dep, at, status, errorClass, message)
                        : ok(provider, dep, at, latency(rnd, 0.8)));
            }
            return out;
        };
    }

    /** Per-minute request headroom that refills every minute (the usual RPM window). */
    private static Payloads rpm(Payloads p, String provider, int limit, int usedThisMinute, Instant at,
            Instant minuteStart) {
        Instant next = minuteStart.plus(Duration.ofMinutes(1));
        return headroom(p, provider, "requests", limit, limit - usedThisMinute, at, next);
    }

    static Script noise(String provider, int perMinute, double errorShare, int status) {
        return (m, minuteStart, rnd, dep) -> {
            List<Payloads> out = new ArrayList<>();
            int used = 0;
            for (Instant at : times(minuteStart, perMinute, rnd)) {
                used++;
                Payloads p = rnd.nextDouble() < errorShare
                        ? failed(provider, dep, at, status, "InternalServerError", status == 529
                                ? "AnthropicException - overloaded_error" : "The server had an error")
                        : ok(provider, dep, at, latency(rnd, 0.8));
                out.add(rpm(p, provider, 60, used, at, minuteStart));
            }
            return out;
        };
    }

    static Script dailySwing() {
        return (m, minuteStart, rnd, dep) -> {
            double load = (1 + Math.sin(2 * Math.PI * m / 60.0)) / 2;
            int n = (int) Math.round(6 + 14 * load);
            List<Payloads> out = new ArrayList<>();
            int used = 0;
            for (Instant at : times(minuteStart, n, rnd)) {
                used++;
                out.add(rpm(ok("openai", dep, at, latency(rnd, 0.8 * (1 + 0.25 * load))), "openai", 30, used, at,
                        minuteStart));
            }
            return out;
        };
    }

    static Script oneSlowCall() {
        return (m, minuteStart, rnd, dep) -> {
            List<Payloads> out = new ArrayList<>();
            List<Instant> times = times(minuteStart, 20, rnd);
            for (int i = 0; i < times.size(); i++) {
                out.add(ok("openai", dep, times.get(i), m == 50 && i == 10 ? 45 : latency(rnd, 0.8)));
            }
            return out;
        };
    }

    static Script single500() {
        return (m, minuteStart, rnd, dep) -> {
            List<Payloads> out = new ArrayList<>();
            List<Instant> times = times(minuteStart, 20, rnd);
            for (int i = 0; i < times.size(); i++) {
                out.add(m == 45 && i == 7
                        ? failed("openai", dep, times.get(i), 500, "InternalServerError", "The server had an error")
                        : ok("openai", dep, times.get(i), latency(rnd, 0.8)));
            }
            return out;
        };
    }

    /**
     * Tokens drain 4% of the limit a minute from minute 30 (zero would come at 55), but the window resets at 50 and
     * then every 15 minutes: each drain ends at a reset long before zero.
     */
    static Script resetsFirst(String provider) {
        return (m, minuteStart, rnd, dep) -> {
            Instant t0 = timelineStart(minuteStart, m);
            long limit = 100_000;
            List<Payloads> out = new ArrayList<>();
            for (Instant at : times(minuteStart, 12, rnd)) {
                double minute = Duration.between(t0, at).toMillis() / 60_000.0;
                double cycleStart = minute < 50 ? 30 : 50 + 15 * Math.floor((minute - 50) / 15);
                double resetMinute = minute < 50 ? 50 : cycleStart + 15;
                double remaining = minute < 30 ? limit * 0.98 : limit * (1 - 0.04 * (minute - cycleStart));
                Instant resetAt = t0.plusSeconds((long) (resetMinute * 60));
                out.add(headroom(ok(provider, dep, at, latency(rnd, 0.8)), provider, "tokens", limit,
                        Math.round(remaining), at, resetAt));
            }
            return out;
        };
    }

    static Script latencyBump() {
        return (m, minuteStart, rnd, dep) -> {
            List<Payloads> out = new ArrayList<>();
            double median = m >= 45 && m <= 48 ? 0.8 * 1.6 : 0.8;
            for (Instant at : times(minuteStart, 12, rnd)) {
                out.add(ok("openai", dep, at, latency(rnd, median)));
            }
            return out;
        };
    }
}
