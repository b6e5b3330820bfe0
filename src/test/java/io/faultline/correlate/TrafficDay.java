package io.faultline.correlate;

import io.faultline.testing.Payloads;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

/**
 * A recorded-style day of LiteLLM traffic from one seed: steady traffic on six deployments of three providers with a
 * diurnal swing, independent failures on each deployment (Poisson processes of 429 bursts, short 503/529 blips and
 * timeouts, every failed request falling back in its trace the way a LiteLLM router with {@code fallbacks} does,
 * and the occasional badly formatted JSON answer), and a few scripted incidents: upstream outages reaching two or
 * three providers with onsets within 90 s, and cascades of timeouts whose requests fall back to a weaker model that
 * breaks the format. Every call of an incident is labelled with it; the replay reads the ground truth from that.
 */
final class TrafficDay {

    /** A deployment, its traffic (calls a minute at the daily mean) and where LiteLLM sends its failed requests. */
    record Deployment(String provider, String model, String name, double callsPerMinute, double jsonShare,
            double formatFailureRate, String fallback) {
    }

    /** One call as LiteLLM logs it, with the incident it belongs to (null for the independent traffic). */
    record Call(Instant at, Payloads payload, String incident) {
    }

    /** A scripted incident: its kind, onset and the deployments it reached. */
    record Incident(String id, String kind, Instant onset, List<String> deployments) {
    }

    /** The independent failure processes, per deployment and hour (a scale of 1 is the default mix). */
    static final double RATE_LIMIT_BURSTS_PER_HOUR = 0.25;
    static final double BLIPS_PER_HOUR = 0.12;
    static final double TIMEOUTS_PER_HOUR = 0.2;

    final List<Deployment> deployments;
    final List<Call> calls = new ArrayList<>();
    final List<Incident> incidents = new ArrayList<>();
    private final Random random;
    private final Instant start;
    private final Map<String, Deployment> byName = new LinkedHashMap<>();
    /** Per deployment, the spans in which an incident owns its traffic (background calls there are dropped). */
    private final Map<String, List<Instant[]>> taken = new HashMap<>();

    /**
     * @param failureScale multiplies the independent failure rates (1 = the default mix)
     * @param trafficScale multiplies the steady successful traffic (0 for none: a warm-up day of history needs only
     *        the failures and their fallbacks)
     */
    TrafficDay(long seed, Instant start, String suffix, double failureScale, double trafficScale,
            int upstreamIncidents, int cascades) {
        this.random = new Random(seed);
        this.start = start;
        this.deployments = List.of(
                new Deployment("openai", "gpt-4o-mini", "oa-mini-" + suffix, 2.0, 0.4, 0.01, "an-haiku-" + suffix),
                new Deployment("openai", "gpt-4o", "oa-4o-" + suffix, 1.0, 0.3, 0.005, "ge-pro-" + suffix),
                new Deployment("anthropic", "claude-3-5-sonnet", "an-sonnet-" + suffix, 1.0, 0.3, 0.005,
                        "oa-4o-" + suffix),
                new Deployment("anthropic", "claude-3-5-haiku", "an-haiku-" + suffix, 1.2, 0.4, 0.02,
                        "ge-flash-" + suffix),
                new Deployment("gemini", "gemini-2.0-flash", "ge-flash-" + suffix, 1.5, 0.4, 0.02,
                        "oa-mini-" + suffix),
                new Deployment("gemini", "gemini-1.5-pro", "ge-pro-" + suffix, 0.5, 0.3, 0.005,
                        "an-sonnet-" + suffix));
        deployments.forEach(d -> byName.put(d.name(), d));
        // Incidents first, so that the background traffic can leave their spans to them.
        List<Instant> onsets = incidentOnsets(upstreamIncidents + cascades);
        for (int i = 0; i < onsets.size(); i++) {
            if (i < upstreamIncidents) {
                upstream("upstream-" + i, onsets.get(i));
            } else {
                cascade("cascade-" + (i - upstreamIncidents), onsets.get(i));
            }
        }
        for (Deployment d : deployments) {
            if (trafficScale > 0) {
                background(d, trafficScale);
            }
            independentFailures(d, failureScale);
        }
        calls.sort(Comparator.comparing(Call::at));
    }

    Instant start() {
        return start;
    }

    Instant end() {
        return start.plus(Duration.ofDays(1));
    }

    // ---- incidents --------------------------------------------------------------------------------------------

    /** Onsets between 01:00 and 23:00, at least 45 min apart, so that two incidents never share a window. */
    private List<Instant> incidentOnsets(int n) {
        List<Instant> onsets = new ArrayList<>();
        while (onsets.size() < n) {
            Instant at = start.plusSeconds(3600 + (long) (random.nextDouble() * 22 * 3600));
            if (onsets.stream().allMatch(o -> Math.abs(Duration.between(o, at).toMinutes()) >= 45)) {
                onsets.add(at);
            }
        }
        onsets.sort(Comparator.naturalOrder());
        return onsets;
    }

    /**
     * A shared upstream (egress proxy, DNS, gateway) fails: two or three providers, each deployment of an affected
     * provider reached with probability 0.7 (at least one), onsets within 90 s of each other, 3 to 10 min of failed
     * calls with either 503s or timeouts. Failed requests fall back; a fallback to a reached deployment fails too.
     */
    private void upstream(String id, Instant onset) {
        List<String> providers = new ArrayList<>(List.of("openai", "anthropic", "gemini"));
        java.util.Collections.shuffle(providers, random);
        providers = providers.subList(0, random.nextBoolean() ? 2 : 3);
        boolean timeouts = random.nextDouble() < 0.3;
        Map<String, Instant[]> reached = new LinkedHashMap<>();
        boolean first = true;
        for (String provider : providers) {
            List<Deployment> own = deployments.stream().filter(d -> d.provider().equals(provider)).toList();
            List<Deployment> hit = new ArrayList<>();
            for (Deployment d : own) {
                if (random.nextDouble() < 0.7) {
                    hit.add(d);
                }
            }
            if (hit.isEmpty()) {
                hit.add(own.get(random.nextInt(own.size())));
            }
            for (Deployment d : hit) {
                Instant from = first ? onset : onset.plusMillis((long) (random.nextDouble() * 90_000));
                first = false;
                Instant until = from.plusSeconds(180 + random.nextInt(420));
                reached.put(d.name(), new Instant[] {from, until});
                take(d.name(), from, until);
            }
        }
        for (Map.Entry<String, Instant[]> e : reached.entrySet()) {
            Deployment d = byName.get(e.getKey());
            for (Instant at = e.getValue()[0]; at.isBefore(e.getValue()[1]); at = at.plusMillis(
                    4_000 + (long) (random.nextDouble() * 16_000))) {
                String trace = UUID.randomUUID().toString();
                calls.add(new Call(at, failed(d, at, timeouts ? 408 : 503, trace), id));
                Deployment target = byName.get(d.fallback());
                Instant next = at.plusMillis(1_000 + random.nextInt(2_000));
                Instant[] down = reached.get(target.name());
                if (down != null && !next.isBefore(down[0]) && next.isBefore(down[1])) {
                    calls.add(new Call(next, failed(target, next, timeouts ? 408 : 503, trace), id));
                } else {
                    calls.add(new Call(next, answered(target, next, trace, random.nextDouble() < d.jsonShare(),
                            target.formatFailureRate()), id));
                }
            }
        }
        incidents.add(new Incident(id, "upstream", onset, List.copyOf(reached.keySet())));
    }

    /**
     * A timeout storm on one deployment (4 to 10 min): its requests time out and fall back in their traces to the
     * configured target, a weaker model that breaks the requested JSON format on 70% of them.
     */
    private void cascade(String id, Instant onset) {
        Deployment d = deployments.get(random.nextInt(deployments.size()));
        Deployment target = byName.get(d.fallback());
        Instant until = onset.plusSeconds(240 + random.nextInt(360));
        take(d.name(), onset, until);
        int broken = 0;
        for (Instant at = onset; at.isBefore(until) || broken < 2; at = at.plusMillis(
                6_000 + (long) (random.nextDouble() * 14_000))) {
            String trace = UUID.randomUUID().toString();
            calls.add(new Call(at, failed(d, at, 408, trace), id));
            Instant next = at.plusMillis(1_500 + random.nextInt(2_000));
            boolean json = random.nextDouble() < 0.8;
            boolean breaks = json && random.nextDouble() < 0.7;
            broken += breaks ? 1 : 0;
            calls.add(new Call(next, answered(target, next, trace, json, breaks ? 1 : 0), id));
        }
        incidents.add(new Incident(id, "cascade", onset, List.of(d.name(), target.name())));
    }

    private void take(String deployment, Instant from, Instant until) {
        taken.computeIfAbsent(deployment, k -> new ArrayList<>()).add(new Instant[] {from, until});
    }

    private boolean isTaken(String deployment, Instant at) {
        for (Instant[] span : taken.getOrDefault(deployment, List.of())) {
            if (!at.isBefore(span[0]) && at.isBefore(span[1])) {
                return true;
            }
        }
        return false;
    }

    // ---- independent traffic ----------------------------------------------------------------------------------

    /** Calls a minute swing from 40% of the mean at 02:00 UTC to 160% at 14:00. */
    private static double diurnal(int minuteOfDay) {
        return 1 - 0.6 * Math.cos(2 * Math.PI * (minuteOfDay - 120) / 1440.0);
    }

    private void background(Deployment d, double scale) {
        for (int m = 0; m < 1440; m++) {
            int n = poisson(d.callsPerMinute() * scale * diurnal(m));
            for (int i = 0; i < n; i++) {
                Instant at = start.plusMillis(m * 60_000L + (long) (random.nextDouble() * 60_000));
                if (!isTaken(d.name(), at)) {
                    calls.add(new Call(at, answered(d, at, UUID.randomUUID().toString(),
                            random.nextDouble() < d.jsonShare(), d.formatFailureRate()), null));
                }
            }
        }
    }

    /** Poisson processes of failures, each failed request falling back to the deployment's target. */
    private void independentFailures(Deployment d, double scale) {
        // Busier deployments hit their rate limits more often.
        double busy = d.callsPerMinute();
        poissonProcess(RATE_LIMIT_BURSTS_PER_HOUR * busy * scale, at -> {
            int n = 2 + poisson(4);
            long span = 10_000 + (long) (random.nextDouble() * 110_000);
            for (int i = 0; i < n; i++) {
                independentFailure(d, at.plusMillis(span * i / n), 429);
            }
        });
        poissonProcess(BLIPS_PER_HOUR * scale, at -> {
            int n = 1 + poisson(1);
            for (int i = 0; i < n; i++) {
                independentFailure(d, at.plusMillis(i * (long) (random.nextDouble() * 20_000)),
                        d.provider().equals("anthropic") ? 529 : 503);
            }
        });
        poissonProcess(TIMEOUTS_PER_HOUR * scale, at -> {
            int n = random.nextDouble() < 0.3 ? 2 : 1;
            for (int i = 0; i < n; i++) {
                independentFailure(d, at.plusMillis(i * 15_000L), 408);
            }
        });
    }

    private void independentFailure(Deployment d, Instant at, int status) {
        if (isTaken(d.name(), at) || !at.isBefore(end())) {
            return;
        }
        String trace = UUID.randomUUID().toString();
        calls.add(new Call(at, failed(d, at, status, trace), null));
        Deployment target = byName.get(d.fallback());
        Instant next = at.plusMillis(1_000 + random.nextInt(2_000));
        if (!isTaken(target.name(), next)) {
            calls.add(new Call(next, answered(target, next, trace, random.nextDouble() < d.jsonShare(),
                    target.formatFailureRate()), null));
        }
    }

    private void poissonProcess(double perHour, java.util.function.Consumer<Instant> event) {
        if (perHour <= 0) {
            return;
        }
        double t = 0;
        while (true) {
            t += -Math.log(1 - random.nextDouble()) / perHour * 3600;
            if (t >= 86_400) {
                return;
            }
            event.accept(start.plusMillis((long) (t * 1000)));
        }
    }

    private int poisson(double mean) {
        double l = Math.exp(-mean);
        int k = 0;
        double p = random.nextDouble();
        while (p > l) {
            k++;
            p *= random.nextDouble();
        }
        return k;
    }

    // ---- payloads ---------------------------------------------------------------------------------------------

    private static final Map<String, Object> JSON_MODE = Map.of("response_format", Map.of("type", "json_object"));

    private Payloads answered(Deployment d, Instant at, String trace, boolean json, double formatFailureRate) {
        Payloads p = Payloads.success(d.provider(), d.model(), d.name(), at).latency(0.3 + random.nextDouble() * 2)
                .set("trace_id", trace);
        if (json) {
            p.set("model_parameters", JSON_MODE);
            p.answer(random.nextDouble() < formatFailureRate ? "Sure! Here is the data you asked for: city Paris"
                    : "{\"city\": \"Paris\"}", "stop");
        }
        return p;
    }

    private static Payloads failed(Deployment d, Instant at, int status, String trace) {
        Payloads p = switch (status) {
            case 429 -> Payloads.failure(d.provider(), d.model(), d.name(), at, 429, "RateLimitError",
                    "Rate limit reached for requests");
            case 529 -> Payloads.failure(d.provider(), d.model(), d.name(), at, 529, "InternalServerError",
                    "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}");
            case 408 -> Payloads.failure(d.provider(), d.model(), d.name(), at, 408, "Timeout", "Request timed out.")
                    .latency(30);
            default -> Payloads.failure(d.provider(), d.model(), d.name(), at, 503, "ServiceUnavailableError",
                    "upstream connect error or disconnect/reset before headers");
        };
        return p.set("trace_id", trace);
    }
}
