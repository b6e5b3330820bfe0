package io.faultline.fuzz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What the campaign saw: answers per status, the slowest requests, and every failed answer grouped by cause
 * (endpoint, mutation without its sizes, what went wrong) with the smallest request of each group as reproducer.
 */
final class FuzzReport {

    /** One answer; {@code status} is -1 when there was none (timeout or broken connection, see {@code error}). */
    record Outcome(FuzzRequest request, int status, long nanos, String contentType, String body, String error) {

        long millis() {
            return nanos / 1_000_000;
        }
    }

    record Health(int status, long nanos, boolean up) {
    }

    /**
     * The failures of one endpoint with one symptom. Requests carry up to three mutations, so the group keeps the
     * mutation kinds all its members share (the likely cause) and, as reproducer, the request with the fewest
     * mutations and then the fewest bytes.
     */
    static final class Group {
        int count;
        Outcome smallest;
        long slowestMillis;
        java.util.Set<String> common;
        final Map<String, Integer> kinds = new TreeMap<>();
    }

    private static final Pattern NUMBER = Pattern.compile(":\\d+");
    private static final int SLOWEST = 10;
    /**
     * The slowest answers kept to be judged against the run's reference at the end: more than this many too slow
     * fails the campaign anyway.
     */
    private static final int JUDGED = 20;
    /** A slow answer fails when slower than this many times the run's own reference for its size. */
    static final int REFERENCE_FACTOR = 100;
    /** Requests at least this large give the reference its time per byte. */
    private static final int LARGE = 16 * 1024;

    private final long seed;
    private final int planned;
    private final Duration within;
    private final String baseUrl;
    private final Map<String, Integer> byStatus = new TreeMap<>();
    private final Map<String, Group> failures = new TreeMap<>();
    private final List<Outcome> slowest = new ArrayList<>();
    private final List<Long> answeredNanos = new ArrayList<>();
    private final List<Double> largeNanosPerByte = new ArrayList<>();
    private boolean judged;
    private final java.util.Set<Integer> judgedSlow = new java.util.HashSet<>();
    private final List<String> healthFailures = new ArrayList<>();
    private final List<Long> healthMillis = new ArrayList<>();
    private int sent;
    private int count2xx;
    private int count4xx;

    FuzzReport(long seed, int planned, Duration within, String baseUrl) {
        this.seed = seed;
        this.planned = planned;
        this.within = within;
        this.baseUrl = baseUrl;
    }

    synchronized void record(Outcome outcome) {
        sent++;
        int status = outcome.status();
        byStatus.merge(status < 0 ? "no answer" : String.valueOf(status), 1, Integer::sum);
        if (status >= 200 && status < 300) {
            count2xx++;
            answeredNanos.add(outcome.nanos());
            if (outcome.request().size() >= LARGE) {
                largeNanosPerByte.add((double) outcome.nanos() / outcome.request().size());
            }
        } else if (status >= 400 && status < 500) {
            count4xx++;
        }
        slowest.add(outcome);
        slowest.sort(Comparator.comparingLong(Outcome::nanos).reversed());
        if (slowest.size() > JUDGED) {
            slowest.remove(JUDGED);
        }
        judged = false;
        String cause = cause(outcome);
        if (cause != null) {
            fail(outcome, cause);
        }
    }

    private void fail(Outcome outcome, String cause) {
        String key = outcome.request().endpoint() + " | " + cause;
        Group group = failures.computeIfAbsent(key, k -> new Group());
        group.count++;
        group.slowestMillis = Math.max(group.slowestMillis, outcome.millis());
        java.util.Set<String> kinds = new java.util.TreeSet<>(List.of(coarse(outcome.request().mutation())
                .split(" ")));
        kinds.forEach(k -> group.kinds.merge(k, 1, Integer::sum));
        if (group.common == null) {
            group.common = kinds;
        } else {
            group.common.retainAll(kinds);
        }
        if (group.smallest == null || simpler(outcome.request(), group.smallest.request())) {
            group.smallest = outcome;
        }
    }

    private static boolean simpler(FuzzRequest a, FuzzRequest b) {
        int ma = a.mutation().split(" ").length;
        int mb = b.mutation().split(" ").length;
        return ma != mb ? ma < mb : a.size() < b.size();
    }

    /** Null when the answer keeps the promise (time apart, see {@link #judgeTimes()}); else what broke it. */
    String cause(Outcome outcome) {
        int status = outcome.status();
        if (status < 0) {
            return "no answer (" + outcome.error() + ")";
        }
        if (status >= 200 && status < 300) {
            return null;
        }
        boolean problem = outcome.contentType().startsWith("application/problem+json")
                && outcome.body().contains("\"status\":" + status);
        if (status >= 400 && status < 500) {
            return problem ? null : status + " without problem+json (" + outcome.contentType() + ")";
        }
        if (status == 503 && problem && outcome.body().contains("\"title\":\"Busy\"")) {
            return null; // the admission's answer to load (several large bodies at once): retry later, no fault
        }
        return "status " + status;
    }

    /**
     * The answers slower than both {@code within} (the promise) and {@link #REFERENCE_FACTOR} times the run's own
     * reference for their size fail: the median answer, or for a large request its size times the median time per
     * byte of the large requests answered 2xx. The promise alone is an absolute bound that a slower machine breaks on
     * its largest bodies (2.6 MB took 0.7 s here); the reference scales with the machine, and a hang or a
     * super-linear path is still caught. Run once per batch of new answers, before the failures are read.
     */
    private void judgeTimes() {
        if (judged) {
            return;
        }
        judged = true;
        long median = median(answeredNanos);
        double perByte = perByte();
        for (Outcome o : slowest) {
            if (o.status() < 0 || judgedSlow.contains(o.request().index())) {
                continue;
            }
            long ceiling = ceilingNanos(median, perByte, o.request().size());
            if (o.nanos() > ceiling) {
                judgedSlow.add(o.request().index());
                fail(o, "slower than " + within.toMillis() + " ms and than " + REFERENCE_FACTOR
                        + "x the run's reference for its size (status " + o.status() + ")");
            }
        }
    }

    /** The slowest an answer may be: the promise, or the run's reference for its size times the factor. */
    long ceilingNanos(long medianNanos, double nanosPerByte, int bytes) {
        double reference = Math.max(medianNanos, nanosPerByte * bytes);
        return Math.max(within.toNanos(), (long) Math.min(Long.MAX_VALUE / 2.0, REFERENCE_FACTOR * reference));
    }

    private double perByte() {
        return largeNanosPerByte.stream().sorted().skip(largeNanosPerByte.size() / 2).findFirst().orElse(0.0);
    }

    private static long median(List<Long> values) {
        if (values.isEmpty()) {
            return 0;
        }
        List<Long> sorted = new ArrayList<>(values);
        sorted.sort(null);
        return sorted.get(sorted.size() / 2);
    }

    /**
     * Mutation kinds without the field they hit and without sizes or depths ({@code nul-or-surrogate},
     * {@code hostile-content:one-token}, {@code envelope:oversized}), so that one cause is one kind.
     */
    static String coarse(String mutation) {
        StringBuilder out = new StringBuilder();
        for (String part : mutation.split(" ")) {
            if (part.equals("secrets") || part.equals("no-api-key")) {
                continue;
            }
            String stripped = NUMBER.matcher(part).replaceAll("");
            String[] pieces = stripped.split(":");
            String kind = pieces[0].startsWith("hostile-") || pieces[0].equals("envelope")
                    || pieces[0].equals("content-type") ? stripped : pieces[0];
            if (pieces[0].equals("hostile") && pieces.length > 2) {
                kind = "hostile:" + pieces[2];
            }
            out.append(out.isEmpty() ? "" : " ").append(kind);
        }
        return out.isEmpty() ? "none" : out.toString();
    }

    synchronized boolean health(int atRequest, Health health) {
        healthMillis.add(health.nanos() / 1_000_000);
        boolean ok = health.status() == 200 && health.up() && health.nanos() <= within.toNanos();
        if (!ok) {
            healthFailures.add("at request " + atRequest + ": status " + health.status() + ", "
                    + health.nanos() / 1_000_000 + " ms, up=" + health.up());
        }
        return ok;
    }

    synchronized int sent() {
        return sent;
    }

    synchronized int count2xx() {
        return count2xx;
    }

    synchronized int count4xx() {
        return count4xx;
    }

    synchronized List<String> failureGroups() {
        judgeTimes();
        return List.copyOf(failures.keySet());
    }

    synchronized List<String> healthFailures() {
        return List.copyOf(healthFailures);
    }

    synchronized String render(Duration took, boolean aborted, DatabaseDump.Scan scan) {
        judgeTimes();
        StringBuilder out = new StringBuilder();
        out.append("# Fuzz campaign\n\n");
        out.append(String.format("seed %d, %d of %d requests sent in %.1f s%s; reproduce with"
                + " `FUZZ_SEED=%d FUZZ_REQUESTS=%d make fuzz`%n%n", seed, sent, planned, took.toMillis() / 1000.0,
                aborted ? " (ABORTED: the service stopped answering)" : "", seed, planned));
        out.append("| status | answers |\n|---|---|\n");
        byStatus.forEach((status, count) -> out.append("| ").append(status).append(" | ").append(count).append(" |\n"));
        out.append("\nSlowest requests:\n\n| ms | status | request | mutation | bytes | index |\n"
                + "|---|---|---|---|---|---|\n");
        for (Outcome o : slowest.subList(0, Math.min(SLOWEST, slowest.size()))) {
            String path = o.request().path().length() > 60 ? o.request().path().substring(0, 60) + "..."
                    : o.request().path();
            out.append(String.format("| %d | %s | %s %s | %s | %d | %d |%n", o.millis(), o.status() < 0 ? "none"
                    : o.status(), o.request().method(), path.replace("|", "%7C"), o.request().mutation(),
                    o.request().size(), o.request().index()));
        }
        out.append(String.format("%nTime: an answer fails when slower than %d ms and than %dx the run's reference for"
                + " its size (median 2xx answer %.1f ms; %.0f ns per byte for 2xx requests of %d bytes or more)%n",
                within.toMillis(), REFERENCE_FACTOR, median(answeredNanos) / 1e6, perByte(), LARGE));
        out.append(String.format("%nReadiness checks: %d, slowest %d ms, failed %d%n", healthMillis.size(),
                healthMillis.stream().mapToLong(Long::longValue).max().orElse(0), healthFailures.size()));
        healthFailures.forEach(h -> out.append("  ").append(h).append('\n'));
        out.append(String.format("%nDatabase: %d rows, %d values read as text; %d rows carry the canary; raw secrets"
                + " found in %d columns%n", scan.rows(), scan.values(), scan.canaryRows(), scan.leaks().size()));
        scan.leaks().forEach((where, count) -> out.append("  ").append(where).append(": ").append(count)
                .append(" rows, e.g. ...").append(scan.leakSamples().get(where).replace("\n", " ")).append("...\n"));
        out.append(String.format("%nFailed answers: %d groups%n", failures.size()));
        int n = 0;
        for (Map.Entry<String, Group> e : failures.entrySet()) {
            Group g = e.getValue();
            Outcome o = g.smallest;
            out.append(String.format("%n%d. %s%n   mutation kinds in every one: %s; most frequent: %s%n", n + 1,
                    e.getKey(), g.common.isEmpty() ? "(none shared)" : String.join(", ", g.common),
                    top(g.kinds)));
            out.append(String.format("   %d requests, slowest %d ms; reproducer: request %d, %s %s,"
                    + " %d bytes, content type %s, mutation '%s' -> %s in %d ms: %s%n", g.count,
                    g.slowestMillis, o.request().index(), o.request().method(), o.request().path().length() > 120
                            ? o.request().path().substring(0, 120) + "..." : o.request().path(),
                    o.request().size(), o.request().contentType(), o.request().mutation(),
                    o.status() < 0 ? "no answer" : o.status(), o.millis(),
                    (o.error() != null ? o.error() : o.body()).replace("\n", " ")
                            .substring(0, Math.min(300, (o.error() != null ? o.error() : o.body()).length()))));
            n++;
        }
        return out.toString();
    }

    private static String top(Map<String, Integer> kinds) {
        return kinds.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(4)
                .map(k -> k.getKey() + " x" + k.getValue()).collect(java.util.stream.Collectors.joining(", "));
    }

    /** Writes the reproducer of each group as a body file and a curl line. */
    synchronized void writeReproducers(Path dir, String key) throws IOException {
        judgeTimes();
        Files.createDirectories(dir);
        StringBuilder script = new StringBuilder("#!/bin/sh\n# Reproducers of the failed-answer groups; set URL to"
                + " a running Faultline (default: the campaign's).\nURL=${URL:-" + baseUrl + "}\nKEY=${KEY:-" + key
                + "}\n");
        int n = 0;
        for (Map.Entry<String, Group> e : failures.entrySet()) {
            FuzzRequest r = e.getValue().smallest.request();
            n++;
            script.append("\n# ").append(n).append(". ").append(e.getKey().replace("\n", " ")).append('\n');
            script.append("curl -s -o /dev/null -w '%{http_code} %{time_total}s\\n' -X ").append(r.method());
            if (r.contentType() != null) {
                script.append(" -H 'Content-Type: ").append(r.contentType()).append('\'');
            }
            if (r.authorized()) {
                script.append(" -H \"Authorization: Bearer $KEY\"");
            }
            if (r.body() != null) {
                Path body = dir.resolve(n + ".body");
                Files.write(body, r.body());
                script.append(" --data-binary @").append(body.toAbsolutePath());
            }
            script.append(" \"$URL").append(r.path().replace("\"", "%22").replace("$", "%24")
                    .replace("`", "%60")).append("\"\n");
        }
        Files.writeString(dir.resolve("replay.sh"), script.toString());
    }
}
