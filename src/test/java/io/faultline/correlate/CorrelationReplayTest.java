package io.faultline.correlate;

import io.agroal.api.AgroalDataSource;
import io.faultline.testing.Api;
import io.faultline.testing.Payloads;
import io.faultline.testing.PostgresResource;
import io.faultline.testing.TestClock;
import io.quarkus.logging.Log;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayNameGeneration;
import org.junit.jupiter.api.DisplayNameGenerator;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * "No false correlation": replays recorded-style days of traffic ({@link TrafficDay}) on the test clock through the
 * real ingest path (POST /api/v1/calls, the fold, the EpisodeObserver, the engine with its production defaults) and
 * scores the clusters against the scripted incidents.
 * <ul>
 * <li>An episode belongs to an incident when one of its calls does; the others are independent.</li>
 * <li>A cluster <em>matches</em> an incident when at least half of its members belong to it and it holds at least
 * two of its episodes. Precision: matched clusters over all clusters of the day. Recall: incidents that produced two
 * or more episodes and have a matching cluster, over those incidents.</li>
 * <li>False-cluster rate: clusters made only of independent episodes, over the pairs of independent provider
 * episodes (of the engine's temporal types) on two providers whose onsets lie within one correlation window, counted
 * from the stored episodes. Those pairs are the chances to correlate falsely.</li>
 * </ul>
 * Each day is preceded by a warm-up week of independent failures only, so that the engine's base rates (7 days of
 * history) see what a running service sees. Seeds: {@code -Dfaultline.replay.seeds=1-3} (the default, run by
 * {@code make test}); 1001-1010 were used for tuning and are never reported.
 */
@QuarkusTest
@QuarkusTestResource(PostgresResource.class)
@DisplayNameGeneration(DisplayNameGenerator.ReplaceUnderscores.class)
class CorrelationReplayTest {

    /**
     * The first day replayed; each seed gets its own fortnight. In the past, before every other test class's data:
     * their {@code since} queries page by last activity and must not meet hundreds of replayed clusters, and the
     * partition job, which reads the clock, must not take a replayed day for today and drop today's partitions.
     */
    static final Instant EPOCH = Instant.parse("2001-01-07T00:00:00Z");

    @Inject
    TestClock clock;

    @Inject
    FailureCorrelationEngine engine;

    @Inject
    CorrelateConfig config;

    @Inject
    AgroalDataSource dataSource;

    @AfterEach
    void releaseClock() {
        clock.release();
    }

    /** The figures of one replayed day. */
    record DayScore(long seed, int calls, int episodes, int independentEpisodes, int incidents,
            int recoverableIncidents, int recovered, int clusters, int matched, int falseClusters, int chancePairs,
            int chancePairsWithin120s, List<String> notes) {
    }

    @Test
    void a_replayed_day_clusters_the_scripted_incidents_and_not_the_chance_coincidences() throws Exception {
        List<Long> seeds = seeds(System.getProperty("faultline.replay.seeds", "1-3"));
        int warmupDays = Integer.getInteger("faultline.replay.warmup-days", 7);
        List<DayScore> days = new ArrayList<>();
        long started = System.nanoTime();
        for (long seed : seeds) {
            DayScore day = replay(seed, warmupDays);
            Log.infof("replay seed %d: %s", seed, day);
            days.add(day);
        }
        Duration took = Duration.ofNanos(System.nanoTime() - started);
        int clusters = days.stream().mapToInt(DayScore::clusters).sum();
        int matched = days.stream().mapToInt(DayScore::matched).sum();
        int recoverable = days.stream().mapToInt(DayScore::recoverableIncidents).sum();
        int recovered = days.stream().mapToInt(DayScore::recovered).sum();
        int falseClusters = days.stream().mapToInt(DayScore::falseClusters).sum();
        int pairs = days.stream().mapToInt(DayScore::chancePairs).sum();
        double precision = clusters == 0 ? 0 : (double) matched / clusters;
        double recall = recoverable == 0 ? 0 : (double) recovered / recoverable;
        double falseRate = pairs == 0 ? 1 : (double) falseClusters / pairs;
        writeTable(seeds, warmupDays, days, precision, recall, falseRate, took);

        assertThat(recoverable).as("the scripted incidents produced episodes to recover").isGreaterThanOrEqualTo(
                3 * seeds.size());
        // Without chance co-occurrences the false-cluster rate would test nothing. Counted over the engine's
        // temporal types only (rate limits are no upstream signal), a day brings 0-10 of them: a floor over all the
        // replayed days, not per day.
        assertThat(pairs).as("independent failures on two providers within one window").isGreaterThanOrEqualTo(10);
        assertThat(precision).as("precision over %d clusters", clusters).isGreaterThanOrEqualTo(0.95);
        assertThat(recall).as("recall over %d incidents", recoverable).isGreaterThanOrEqualTo(0.9);
        assertThat(falseRate).as("false clusters per chance pair (%d of %d)", falseClusters, pairs)
                .isLessThanOrEqualTo(0.05);
    }

    /**
     * The steady traffic relative to TrafficDay's volumes (about 10,000 calls a day on six deployments). A quarter
     * keeps {@code make test} fast; what the engine links depends on the failures and their fallbacks, which keep
     * their rates, while the steady traffic feeds the fallback targets' quality baselines.
     */
    static double trafficScale() {
        return Double.parseDouble(System.getProperty("faultline.replay.traffic-scale", "0.25"));
    }

    static List<Long> seeds(String spec) {
        List<Long> seeds = new ArrayList<>();
        for (String part : spec.split(",")) {
            String[] range = part.trim().split("-");
            long from = Long.parseLong(range[0].trim());
            long to = range.length > 1 ? Long.parseLong(range[1].trim()) : from;
            for (long s = from; s <= to; s++) {
                seeds.add(s);
            }
        }
        return seeds;
    }

    private DayScore replay(long seed, int warmupDays) throws SQLException {
        Instant day = EPOCH.plus(Duration.ofDays(14 * (seed % 300)));
        String suffix = seed + "-" + UUID.randomUUID().toString().substring(0, 6);
        clock.set(day.minus(Duration.ofDays(warmupDays)));
        engine.closeQuiet();
        for (int w = warmupDays; w >= 1; w--) {
            // Independent failures only: the history the base rates are read from.
            TrafficDay history = new TrafficDay(seed * 1_000 + w, day.minus(Duration.ofDays(w)), suffix, 1, 0, 0, 0);
            ingest(history.calls, Duration.ofHours(3));
        }
        // The replayed days lie in 2001, before the daily partitions: their calls fill the default partition, which
        // earlier test classes' backfills left analysed with a handful of rows. Autovacuum analyses it again about a
        // minute after a burst, so whether the measured day's walks read it through an index depended on when this
        // class ran (after the call tests, each drain's read-ahead took 6-15 s, and one reached the 60 s transaction
        // timeout). Analysed here, as autovacuum would have by then in a service that backfills a week.
        analyze();
        TrafficDay traffic = new TrafficDay(seed, day, suffix, 1, trafficScale(), 2, 2);
        ingest(traffic.calls, Duration.ofSeconds(Long.getLong("faultline.replay.flush-seconds", 300)));
        clock.set(traffic.end().plus(Duration.ofHours(1)));
        engine.closeQuiet();
        return score(seed, traffic);
    }

    private void analyze() throws SQLException {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement()) {
            st.execute("analyze llm_calls");
        }
    }

    /**
     * Sends the calls in time order, one batch per {@code flushEvery} of simulated time with the clock at its end,
     * the way the LiteLLM plugin flushes its queue. The plugin flushes every second; five minutes (three hours for
     * the warm-up history, whose correlation is not scored) keep the replay fast, which delays when the engine sees
     * an episode but not what it links: the fold and the engine take a batch's episodes in onset order. The close
     * job runs every five simulated minutes.
     */
    private void ingest(List<TrafficDay.Call> calls, Duration flushEvery) {
        List<Payloads> batch = new ArrayList<>();
        Instant batchEnd = null;
        Instant nextClose = null;
        for (TrafficDay.Call call : calls) {
            if (batchEnd != null && !call.at().isBefore(batchEnd)) {
                send(batch, batchEnd);
                if (!batchEnd.isBefore(nextClose)) {
                    engine.closeQuiet();
                    nextClose = batchEnd.plus(Duration.ofMinutes(5));
                }
                batch.clear();
                batchEnd = null;
            }
            if (batchEnd == null) {
                long step = flushEvery.toMillis();
                batchEnd = Instant.ofEpochMilli((call.at().toEpochMilli() / step + 1) * step);
                nextClose = nextClose == null ? batchEnd : nextClose;
            }
            batch.add(call.payload());
        }
        if (!batch.isEmpty()) {
            send(batch, batchEnd);
        }
    }

    private void send(List<Payloads> batch, Instant at) {
        // LiteLLM logs a call when it ends; a 30 s timeout ends after the batch boundary it started in.
        clock.set(at.plusSeconds(31));
        Api.ingest(Payloads.array(batch.toArray(Payloads[]::new))).statusCode(200);
        engine.drain(); // the drain job's run after this flush, at its time
    }

    // ---- scoring ----------------------------------------------------------------------------------------------

    private record Episode(UUID id, String category, String type, String provider, String deployment,
            Instant firstSeen) {
    }

    private DayScore score(long seed, TrafficDay traffic) throws SQLException {
        Map<String, String> incidentOfCall = new HashMap<>();
        for (TrafficDay.Call call : traffic.calls) {
            if (call.incident() != null) {
                incidentOfCall.put(call.payload().id(), call.incident());
            }
        }
        Set<String> deployments = new HashSet<>();
        traffic.deployments.forEach(d -> deployments.add(d.name()));
        try (Connection c = dataSource.getConnection()) {
            Map<UUID, Episode> episodes = new LinkedHashMap<>();
            try (PreparedStatement st = c.prepareStatement("select failure_id, category, type, provider, deployment,"
                    + " first_seen from failure_events where deployment = any (?) and first_seen >= ?"
                    + " and first_seen < ? order by first_seen")) {
                st.setArray(1, c.createArrayOf("text", deployments.toArray()));
                st.setTimestamp(2, Timestamp.from(traffic.start()));
                st.setTimestamp(3, Timestamp.from(traffic.end()));
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        Episode e = new Episode(rs.getObject(1, UUID.class), rs.getString(2), rs.getString(3),
                                rs.getString(4), rs.getString(5), rs.getTimestamp(6).toInstant());
                        episodes.put(e.id(), e);
                    }
                }
            }
            // Ground truth: the incident of each episode, from the calls it holds.
            Map<UUID, String> incidentOf = new HashMap<>();
            try (PreparedStatement st = c.prepareStatement("select failure_id, call_id from failure_event_calls"
                    + " where failure_id = any (?)")) {
                st.setArray(1, c.createArrayOf("uuid", episodes.keySet().toArray()));
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        String incident = incidentOfCall.get(rs.getString(2));
                        if (incident != null) {
                            incidentOf.put(rs.getObject(1, UUID.class), incident);
                        }
                    }
                }
            }
            Map<String, Integer> episodesOfIncident = new HashMap<>();
            incidentOf.values().forEach(i -> episodesOfIncident.merge(i, 1, Integer::sum));

            Map<UUID, List<UUID>> clusters = new LinkedHashMap<>();
            try (PreparedStatement st = c.prepareStatement("select m.cluster_id, m.failure_id from correlation_members m"
                    + " where m.cluster_id in (select m2.cluster_id from correlation_members m2"
                    + " where m2.failure_id = any (?)) order by m.cluster_id")) {
                st.setArray(1, c.createArrayOf("uuid", episodes.keySet().toArray()));
                try (ResultSet rs = st.executeQuery()) {
                    while (rs.next()) {
                        clusters.computeIfAbsent(rs.getObject(1, UUID.class), k -> new ArrayList<>())
                                .add(rs.getObject(2, UUID.class));
                    }
                }
            }
            List<String> notes = new ArrayList<>();
            int matched = 0;
            int falseClusters = 0;
            Set<String> recovered = new HashSet<>();
            for (Map.Entry<UUID, List<UUID>> cluster : clusters.entrySet()) {
                List<UUID> members = cluster.getValue();
                Map<String, Integer> byIncident = new HashMap<>();
                for (UUID m : members) {
                    String incident = incidentOf.get(m);
                    if (incident != null) {
                        byIncident.merge(incident, 1, Integer::sum);
                    }
                }
                String match = byIncident.entrySet().stream()
                        .filter(e -> e.getValue() >= 2 && 2 * e.getValue() >= members.size()).map(Map.Entry::getKey)
                        .findFirst().orElse(null);
                if (match != null) {
                    matched++;
                    recovered.add(match);
                } else {
                    if (byIncident.isEmpty()) {
                        falseClusters++;
                    }
                    notes.add("unmatched cluster " + describe(members, episodes, incidentOf));
                }
            }
            int recoverable = 0;
            for (TrafficDay.Incident incident : traffic.incidents) {
                if (episodesOfIncident.getOrDefault(incident.id(), 0) >= 2) {
                    recoverable++;
                    if (!recovered.contains(incident.id())) {
                        notes.add("missed " + incident + " episodes " + episodes.values().stream()
                                .filter(e -> incident.id().equals(incidentOf.get(e.id())))
                                .map(e -> e.type() + "@" + e.deployment() + "@" + e.firstSeen()).toList());
                    }
                }
            }
            // The chances to correlate falsely: independent temporal-type provider episodes on two providers whose
            // onsets lie within one window.
            List<Episode> independent = episodes.values().stream()
                    .filter(e -> !incidentOf.containsKey(e.id()) && "PROVIDER".equals(e.category())
                            && config.temporalTypes().contains(e.type()))
                    .toList();
            long window = config.window().toMillis();
            int pairs = 0;
            int tight = 0;
            for (int i = 0; i < independent.size(); i++) {
                for (int j = i + 1; j < independent.size(); j++) {
                    Episode a = independent.get(i);
                    Episode b = independent.get(j);
                    long lag = Duration.between(a.firstSeen(), b.firstSeen()).toMillis();
                    if (lag > window) {
                        break;
                    }
                    if (!a.provider().equals(b.provider())) {
                        pairs++;
                        tight += lag <= 120_000 ? 1 : 0;
                    }
                }
            }
            return new DayScore(seed, traffic.calls.size(), episodes.size(),
                    (int) episodes.values().stream().filter(e -> !incidentOf.containsKey(e.id())).count(),
                    traffic.incidents.size(), recoverable, recovered.size(), clusters.size(), matched, falseClusters,
                    pairs, tight, notes);
        }
    }

    private static String describe(List<UUID> members, Map<UUID, Episode> episodes, Map<UUID, String> incidentOf) {
        List<String> parts = new ArrayList<>();
        for (UUID m : members) {
            Episode e = episodes.get(m);
            parts.add(e == null ? m + " (outside the day)"
                    : e.type() + "@" + e.deployment() + "@" + e.firstSeen() + "[" + incidentOf.getOrDefault(m, "-")
                            + "]");
        }
        return parts.toString();
    }

    private void writeTable(List<Long> seeds, int warmupDays, List<DayScore> days, double precision, double recall,
            double falseRate, Duration took) throws IOException {
        StringBuilder md = new StringBuilder();
        md.append("# Correlation replay\n\n");
        md.append(String.format(Locale.ROOT, "%d seeded days (seeds %s), each after %d days of independent-failure"
                + " history, steady traffic x%s; engine defaults: window %s, min-confidence %s, upstream-prior %s,"
                + " min-shared-traces %d, base-rate lookback %s. Took %d s.%n%n",
                seeds.size(), seeds.size() <= 10 ? seeds.toString() : seeds.get(0) + ".." + seeds.get(seeds.size() - 1),
                warmupDays, trafficScale(), config.window(), config.minConfidence(), config.upstreamPrior(),
                config.minSharedTraces(), config.baseRateLookback(), took.toSeconds()));
        md.append("| seed | calls | episodes | independent | incidents (recoverable) | recovered | clusters | matched"
                + " | false clusters | chance pairs (≤ 120 s) |\n");
        md.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (DayScore d : days) {
            md.append(String.format(Locale.ROOT, "| %d | %d | %d | %d | %d (%d) | %d | %d | %d | %d | %d (%d) |%n",
                    d.seed(), d.calls(), d.episodes(), d.independentEpisodes(), d.incidents(),
                    d.recoverableIncidents(), d.recovered(), d.clusters(), d.matched(), d.falseClusters(),
                    d.chancePairs(), d.chancePairsWithin120s()));
        }
        md.append(String.format(Locale.ROOT, "%n**precision %.3f** (%d of %d clusters match an incident), **recall %.3f**"
                + " (%d of %d incidents), **false-cluster rate %.3f** (%d false clusters over %d chance pairs)%n",
                precision, days.stream().mapToInt(DayScore::matched).sum(),
                days.stream().mapToInt(DayScore::clusters).sum(), recall,
                days.stream().mapToInt(DayScore::recovered).sum(),
                days.stream().mapToInt(DayScore::recoverableIncidents).sum(), falseRate,
                days.stream().mapToInt(DayScore::falseClusters).sum(),
                days.stream().mapToInt(DayScore::chancePairs).sum()));
        md.append("\n## Notes\n\n");
        for (DayScore d : days) {
            for (String note : d.notes()) {
                md.append("- seed ").append(d.seed()).append(": ").append(note).append('\n');
            }
        }
        Path out = Path.of("target", "correlation-replay.md");
        Files.createDirectories(out.getParent());
        Files.writeString(out, md);
        Log.info(md);
    }
}
