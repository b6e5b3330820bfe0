package io.faultline.predict;

import io.faultline.classify.ProviderVerdict;
import io.quarkus.logging.Log;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The tick's windows, kept between ticks: the calls of the window, header values read as numbers by the same rule
 * as {@link WindowReader}'s SQL. A deployment's busy seconds (three calls or more) are folded into slices (a second
 * each when the window's ends and buckets are whole seconds, as the tick reads them), each holding what the buckets
 * aggregate (counts, failures per type with their first and last times, header sums, the latest reset) and only the
 * successful calls' latencies one by one (a float each, for the percentiles): a few bytes a call plus a few hundred
 * per slice, where one record per call costs ~220 (the soak of 2026-12-03: 350 MB of heap at 1,524 calls/s). The
 * calls of quiet seconds stay one record each, which costs less than a slice there. Topped up at each tick
 * with only the calls <em>received</em> since the last read ({@code llm_calls.received_at}, indexed by V16), so that
 * a call the spool delivers late lands in its own (past) slice. The buckets are then merged from the slices
 * exactly as {@link WindowReader#read} aggregates them in SQL (a slice never straddles a bucket boundary), so the
 * indicators see the same windows.
 *
 * <ul>
 * <li>Late commits: each top-up checks the keys of the calls received within {@code overlap} before the newest one
 * held (an ingest that stamped its calls before the last read but committed after it) and reads those it does not
 * hold, by their idempotency key {@code (call_id, started_at)}; a resend is not stored again, so it is never counted
 * twice. Calls stamped after the tick's now (a replica's clock ahead) are held but do not move the mark.</li>
 * <li>Start, a clock that went back, a failed read, or every {@code fullReadEvery}: the whole window is read again
 * from the table (the state is the stored calls; nothing of it lives only here). A replica that takes the tick over
 * tops up from its own mark, which is as correct, only longer.</li>
 * </ul>
 * Not thread-safe on its own: the tick holds the advisory lock, and the methods are synchronized for visibility.
 */
final class WindowCache {

    private static final int SLOTS = DeploymentWindow.LIMIT_TYPES.length;
    private static final int TYPES = DeploymentWindow.FAILURE_TYPES.length;
    private static final String SQL = sql();

    /** What a deployment holds of its window: a call's record, or a slice of a busy second's calls. */
    private interface Part {
        /** Its start (a call's) or its slice's start, epoch µs. */
        long at();

        boolean hasReset();

        /** Adds it to a bucket's accumulator. */
        default void into(Acc acc) {
            if (this instanceof Call call) {
                acc.add(call);
            } else {
                acc.add((Slice) this);
            }
        }

        /** Adds its reset headers to a deployment's latest. */
        default void into(Latest latest) {
            if (this instanceof Call call) {
                latest.add(call);
            } else {
                latest.add((Slice) this);
            }
        }
    }

    /** One stored call as the indicators read it; times in epoch microseconds; NaN for a missing header value. */
    private record Call(long started, long ended, String group, boolean success, double latency,
            boolean timedOut, boolean overloaded, boolean rateLimited, boolean outage, double[] remaining,
            double[] limit, String[] reset) implements Part {

        @Override
        public long at() {
            return started;
        }

        @Override
        public boolean hasReset() {
            return reset != null;
        }

        boolean failed(int type) {
            return switch (type) {
                // An overload, a rate limit, a timeout and an outage are the classifier's verdict (ProviderVerdict,
                // one per call: a 503 that says it is overloaded is no outage, a 500 whose body did not parse none
                // of them); a slow or timeout-classed call is a timeout unless an overload or a rate limit.
                case 0 -> rateLimited && !overloaded;
                case 1 -> overloaded;
                case 2 -> outage;
                default -> timedOut && !overloaded && !rateLimited;
            };
        }
    }

    /**
     * A slice is made for a second once it holds this many calls: below it, one record per call costs less than a
     * slice and reads as fast (a deployment with a call every few seconds keeps its calls as they are).
     */
    static final int SLICE_AT = 3;

    /**
     * The held calls of one (provider, deployment): one record per call of its sparse seconds, and a slice per
     * second that held {@link #SLICE_AT} calls or more (by their start, epoch µs). A call of a second that has a
     * slice goes into it, so no second is ever in both.
     */
    private static final class Held {
        final String provider;
        final String deployment;
        ArrayList<Call> calls = new ArrayList<>();
        final TreeMap<Long, Slice> slices = new TreeMap<>();
        /** Calls added since the last {@link #compact}. */
        int added;
        /**
         * The candidate lists it was called from ({@link #list}: a model group of one proxy) and the latest start of
         * a call of each, epoch µs: a handful per deployment, held apart from the calls and slices.
         */
        final HashMap<String, Long> lists = new HashMap<>(4);

        Held(String provider, String deployment) {
            this.provider = provider;
            this.deployment = deployment;
        }

        void calledIn(String proxy, String group, long started) {
            lists.merge(list(proxy, group), started, Math::max);
        }

        void add(Call call, long sliceUs) {
            Slice slice = slices.isEmpty() ? null : slices.get(call.started - Math.floorMod(call.started, sliceUs));
            if (slice != null) {
                slice.add(call);
            } else {
                calls.add(call);
                added++;
            }
        }

        /**
         * Folds the calls of every second that now holds {@link #SLICE_AT} of them into a slice. The records are
         * sorted by start (stable: of equal starts the first held stays first, which the latest reset relies on).
         */
        void compact(long sliceUs) {
            if (added == 0 || calls.size() < SLICE_AT) {
                added = 0;
                return;
            }
            added = 0;
            calls.sort(BY_START);
            ArrayList<Call> kept = null;
            int n = calls.size();
            for (int i = 0; i < n;) {
                long start = calls.get(i).started - Math.floorMod(calls.get(i).started, sliceUs);
                int j = i + 1;
                while (j < n && calls.get(j).started < start + sliceUs) {
                    j++;
                }
                if (j - i >= SLICE_AT) {
                    if (kept == null) {
                        kept = new ArrayList<>(calls.subList(0, i));
                    }
                    Slice slice = slices.computeIfAbsent(start, Slice::new); // never there: add() would have used it
                    for (int k = i; k < j; k++) {
                        slice.add(calls.get(k));
                    }
                } else if (kept != null) {
                    kept.addAll(calls.subList(i, j));
                }
                i = j;
            }
            if (kept != null) {
                calls = kept;
            }
        }
    }

    private static final java.util.Comparator<Call> BY_START = java.util.Comparator.comparingLong(Call::started);

    /** provider NUL deployment → its calls; sorted as the SQL's {@code order by provider, deployment}. */
    private final TreeMap<String, Held> held = new TreeMap<>();
    /** Idempotency keys of the calls received within the overlap of the newest one: those a top-up reads again. */
    private final Map<String, Long> recent = new HashMap<>();
    /** provider NUL deployment → the candidate lists it was called from in the window of the last {@link #read}. */
    private Map<String, Set<String>> lists = Map.of();
    /** provider NUL deployment → its latest reset header per limit type, as of the last {@link #read}. */
    private final Map<String, DeploymentWindow.Reading[]> resets = new HashMap<>();
    /** The provider windows of the last {@link #read} (providers with two or more deployments in the window). */
    private List<DeploymentWindow> providerWindows = List.of();
    private Long newestReceived;
    private Instant lastNow;
    private Instant lastFullRead;
    private long heldCalls;
    private boolean lastWasFull;
    /** The tick's now (µs): calls stamped later (a replica's clock ahead, a test's future) do not move the mark. */
    private long receivedBy;
    /** Width of the slices held (µs): set by the full read, which a read with other alignments forces. */
    private long sliceUs;

    /**
     * The header values a call is read with: per limit type its remaining, limit and reset, the Anthropic name first
     * and the OpenAI one ({@code x-ratelimit-*}, requests and tokens only) as the fallback, as WindowReader's
     * {@code coalesce(h ->> anthropic, h ->> openai)}. Index = slot × 6 + kind × 2 + (1 for the fallback).
     */
    private static final Map<String, Integer> HEADERS = headers();

    private static Map<String, Integer> headers() {
        Map<String, Integer> names = new HashMap<>();
        String[] kinds = { "remaining", "limit", "reset" };
        for (int s = 0; s < SLOTS; s++) {
            String label = DeploymentWindow.LIMIT_TYPES[s];
            for (int k = 0; k < kinds.length; k++) {
                names.put("anthropic-ratelimit-" + label.replace('_', '-') + "-" + kinds[k], s * 6 + k * 2);
                if (s < 2) {
                    names.put("x-ratelimit-" + kinds[k] + "-" + label, s * 6 + k * 2 + 1);
                }
            }
        }
        return Map.copyOf(names);
    }

    private static final JsonFactory JSON = new JsonFactory();

    /**
     * The calls' figures; the headers come back as the stored JSON text and are read here in one pass (a dozen
     * {@code ->>} lookups and pattern matches per row in SQL cost more than the rest of the tick).
     */
    private static String sql() {
        return "select call_id, " + micros("started_at") + ", " + micros("received_at") + ", provider, deployment,"
                + " model_group, " + micros("ended_at") + ", success, http_status, latency_ms,"
                + " (error_class = any (?) or latency_ms > ?), rate_limit_headers::text,"
                + " proxy_id, " + ProviderVerdict.SQL.replace("%", "%%")
                + " from llm_calls where started_at >= ? %s";
    }

    private static String micros(String column) {
        // date_part is float8 arithmetic (extract is numeric, several times slower per row); exact to the µs here.
        return "round(date_part('epoch', " + column + ") * 1000000)::bigint";
    }

    /** Sizes after the last read, for the memory gauges: read without the lock that a tick holds through a query. */
    private volatile long publishedCalls;
    private volatile int publishedDeployments;

    long publishedCalls() {
        return publishedCalls;
    }

    int publishedDeployments() {
        return publishedDeployments;
    }

    /** How many calls are held (for the bench and the tests). */
    synchronized long heldCalls() {
        return heldCalls;
    }

    /** How many slices (busy seconds of a deployment) are held (for the tests). */
    synchronized long heldSlices() {
        return held.values().stream().mapToLong(h -> h.slices.size()).sum();
    }

    /** Whether the last {@link #read} read the whole window from the table. */
    synchronized boolean lastWasFull() {
        return lastWasFull;
    }

    /** Forgets everything: the next read is a full one. */
    synchronized void clear() {
        held.clear();
        recent.clear();
        resets.clear();
        lists = Map.of();
        providerWindows = List.of();
        newestReceived = null;
        lastNow = null;
        lastFullRead = null;
        heldCalls = 0;
        sliceUs = 0;
    }

    /**
     * The widest slice that never straddles a bucket boundary nor the window's ends: the greatest common divisor of
     * a second, the bucket and the ends' offsets within their second (a second when all are whole seconds).
     */
    static long sliceWidth(long fromUs, long toUs, long bucketUs) {
        long g = gcd(1_000_000L, bucketUs);
        g = gcd(g, Math.floorMod(fromUs, 1_000_000L));
        return gcd(g, Math.floorMod(toUs, 1_000_000L));
    }

    private static long gcd(long a, long b) {
        while (b != 0) {
            long t = a % b;
            a = b;
            b = t;
        }
        return a;
    }

    /**
     * The windows of every deployment with calls in {@code [from, to)} of a provider active in the window (as
     * {@link WindowReader#read}), after topping the held calls up from the table.
     */
    synchronized List<DeploymentWindow> read(Connection c, Instant from, Instant to, long bucketMillis,
            Set<String> timeoutClasses, double timeoutMs, Duration overlap, Duration fullReadEvery)
            throws SQLException {
        long width = sliceWidth(micros(from), micros(to), bucketMillis * 1000);
        boolean full = newestReceived == null || lastNow == null || to.isBefore(lastNow)
                || !lastFullRead.plus(fullReadEvery).isAfter(to) || width != sliceUs;
        if (full) {
            clear();
            sliceUs = width;
        }
        receivedBy = micros(to);
        long t0 = System.nanoTime();
        try {
            fetch(c, from, full ? null : newestReceived - overlap.toNanos() / 1000, timeoutClasses, timeoutMs);
        } catch (SQLException | RuntimeException e) {
            clear(); // part of a read may be held: the next tick reads everything again
            throw e;
        }
        pruneRecent(overlap);
        if (full) {
            lastFullRead = to;
        }
        lastNow = to;
        lastWasFull = full;
        for (Held h : held.values()) {
            h.compact(sliceUs);
        }
        long t1 = System.nanoTime();
        List<DeploymentWindow> windows = windows(c, from, to, bucketMillis);
        Log.debugf("prediction window read%s: fetch %.1f ms, windows %.1f ms (%d calls held)", full ? " (full)" : "",
                (t1 - t0) / 1e6, (System.nanoTime() - t1) / 1e6, heldCalls);
        publishedCalls = heldCalls;
        publishedDeployments = held.size();
        return windows;
    }

    /** The latest reset header of a limit type on the deployment in the window of the last {@link #read}. */
    synchronized DeploymentWindow.Reading latestReset(DeploymentWindow w, int slot) {
        DeploymentWindow.Reading[] r = resets.get(w.provider() + "\u0000" + w.deployment());
        return r == null ? null : r[slot];
    }

    /**
     * A LiteLLM candidate list: a model group of one proxy (the plugin's {@code proxy_id}; the calls naming none,
     * stored before V58 or sent by an older plugin or LiteLLM's generic_api logger, are one default proxy). Proxy A's
     * {@code gpt-4o} and proxy B's are two lists, each thinned by its own plugin.
     */
    static String list(String proxy, String group) {
        return (proxy == null ? "" : proxy) + '\u0000' + group;
    }

    /**
     * The candidate lists ({@link #list}) the deployment was called from in the window of the last {@link #read}:
     * those of its calls with a model group that started at or after the window's start (one the clock of a replica
     * put past its end too). Empty for a deployment of no model group.
     */
    synchronized Set<String> listsOf(DeploymentWindow w) {
        return lists.getOrDefault(w.provider() + "\u0000" + w.deployment(), Set.of());
    }

    /**
     * The provider windows of the last {@link #read}: per provider with calls on two or more deployments in the
     * window, every call of its deployments in one window (deployment {@link DeploymentWindow#PROVIDER_WIDE}, no
     * model group), aggregated exactly like a deployment's (percentiles over all the provider's calls).
     */
    synchronized List<DeploymentWindow> providerWindows() {
        return providerWindows;
    }

    /**
     * Full ({@code receivedAfter} null): every call of the window. Top-up: the calls received after the newest one
     * held, plus those of the overlap before it that are not held yet (their keys first, a light query).
     */
    private void fetch(Connection c, Instant from, Long receivedAfter, Set<String> timeoutClasses, double timeoutMs)
            throws SQLException {
        if (receivedAfter == null) {
            fetch(c, from, "", null, null, timeoutClasses, timeoutMs);
            return;
        }
        Set<String> missed = new HashSet<>();
        // A call stamped before the last read and committed after it is in the overlap and not held. Counting the
        // overlap's rows (index only) tells whether there is one; only then are its keys read (4,000 a tick here).
        String range = " from llm_calls where started_at >= ? and received_at > ? and received_at <= ?";
        long heldInOverlap = heldIn(micros(from), receivedAfter, newestReceived);
        try (PreparedStatement st = c.prepareStatement("select count(*)" + range)) {
            st.setTimestamp(1, Timestamp.from(from));
            st.setTimestamp(2, timestamp(receivedAfter));
            st.setTimestamp(3, timestamp(newestReceived));
            try (ResultSet rs = st.executeQuery()) {
                rs.next();
                if (rs.getLong(1) != heldInOverlap) {
                    readMissed(c, "select call_id, " + micros("started_at") + range, from, receivedAfter, missed);
                }
            }
        }
        Timestamp newest = timestamp(newestReceived);
        fetch(c, from, "and received_at > ?", st -> st.setTimestamp(4, newest), null, timeoutClasses, timeoutMs);
        if (!missed.isEmpty()) {
            Array ids = c.createArrayOf("text", missed.stream().map(k -> k.substring(0, k.indexOf('\u0000'))).toArray());
            fetch(c, from, "and call_id = any (?)", st -> st.setArray(4, ids), missed, timeoutClasses, timeoutMs);
        }
    }

    /** The keys of the overlap that are not held. */
    private void readMissed(Connection c, String sql, Instant from, long receivedAfter, Set<String> missed)
            throws SQLException {
        try (PreparedStatement st = c.prepareStatement(sql)) {
            st.setTimestamp(1, Timestamp.from(from));
            st.setTimestamp(2, timestamp(receivedAfter));
            st.setTimestamp(3, timestamp(newestReceived));
            st.setFetchSize(5000);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    String key = rs.getString(1) + '\u0000' + rs.getLong(2);
                    if (!recent.containsKey(key)) {
                        missed.add(key); // stamped before the last read, committed after it
                    }
                }
            }
        }
    }

    /** Held keys started at or after {@code fromUs} and received in {@code (after, upTo]}, as the count reads them. */
    private long heldIn(long fromUs, long after, long upTo) {
        long n = 0;
        for (Map.Entry<String, Long> e : recent.entrySet()) {
            long received = e.getValue();
            if (received > after && received <= upTo) {
                String key = e.getKey();
                if (Long.parseLong(key, key.lastIndexOf('\u0000') + 1, key.length(), 10) >= fromUs) {
                    n++;
                }
            }
        }
        return n;
    }

    @FunctionalInterface
    private interface Binder {
        void bind(PreparedStatement st) throws SQLException;
    }

    /** Adds the calls the condition selects; with {@code only}, just those of these keys. */
    private void fetch(Connection c, Instant from, String condition, Binder binder, Set<String> only,
            Set<String> timeoutClasses, double timeoutMs) throws SQLException {
        long newest = newestReceived == null ? Long.MIN_VALUE : newestReceived;
        try (PreparedStatement st = c.prepareStatement(String.format(SQL, condition))) {
            st.setArray(1, c.createArrayOf("text", timeoutClasses.toArray()));
            st.setDouble(2, timeoutMs);
            st.setTimestamp(3, Timestamp.from(from));
            if (binder != null) {
                binder.bind(st);
            }
            st.setFetchSize(5000);
            try (ResultSet rs = st.executeQuery()) {
                while (rs.next()) {
                    long started = rs.getLong(2);
                    long received = rs.getLong(3);
                    String key = rs.getString(1) + '\u0000' + started;
                    if (only != null && !only.contains(key) || recent.putIfAbsent(key, received) != null) {
                        continue; // another start of a missed call id, or held already
                    }
                    if (received <= receivedBy) {
                        newest = Math.max(newest, received); // a later one stays in recent until the mark passes it
                    }
                    String provider = rs.getString(4);
                    String deployment = rs.getString(5);
                    Held h = held.computeIfAbsent(provider + '\u0000' + deployment,
                            k -> new Held(provider, deployment));
                    Call call = call(rs, started);
                    h.add(call, sliceUs);
                    if (call.group != null) {
                        h.calledIn(rs.getString(13), call.group, started);
                    }
                    heldCalls++;
                }
            }
        }
        if (newest != Long.MIN_VALUE) {
            newestReceived = newest;
        }
    }

    /** Drops the keys the next top-up cannot read again (received at or before its lower bound). */
    private void pruneRecent(Duration overlap) {
        if (newestReceived != null) {
            long bound = newestReceived - overlap.toNanos() / 1000;
            recent.values().removeIf(r -> r <= bound);
        }
    }

    private static Call call(ResultSet rs, long started) throws SQLException {
        long ended = rs.getLong(7);
        String group = rs.getString(6);
        boolean success = rs.getBoolean(8);
        double latency = rs.getDouble(10);
        String verdict = rs.getString(14);
        boolean timedOut = rs.getBoolean(11) || ProviderVerdict.TIMEOUT.code().equals(verdict);
        String[] values = headerValues(rs.getString(12));
        double[] remaining = new double[SLOTS];
        double[] limit = new double[SLOTS];
        String[] reset = null;
        for (int s = 0; s < SLOTS; s++) {
            remaining[s] = number(first(values, s * 6));
            limit[s] = number(first(values, s * 6 + 2));
            String z = first(values, s * 6 + 4);
            if (z != null) {
                if (reset == null) {
                    reset = new String[SLOTS];
                }
                reset[s] = z;
            }
        }
        return new Call(started, ended, group, success, latency, timedOut,
                ProviderVerdict.OVERLOADED.code().equals(verdict), ProviderVerdict.RATE_LIMIT.code().equals(verdict),
                ProviderVerdict.OUTAGE.code().equals(verdict), remaining, limit, reset);
    }

    private static String first(String[] values, int i) {
        return values[i] != null ? values[i] : values[i + 1];
    }

    /** The values of the headers in {@link #HEADERS} (null when absent or JSON null), in one streaming pass. */
    static String[] headerValues(String json) throws SQLException {
        String[] values = new String[SLOTS * 6];
        if (json == null) {
            return values;
        }
        try (JsonParser p = JSON.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return values;
            }
            for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
                Integer index = HEADERS.get(p.currentName());
                JsonToken value = p.nextToken();
                if (value.isStructStart()) {
                    if (index != null) {
                        values[index] = "?"; // not a scalar (ingest stores strings): ->> gives JSON text, no number
                    }
                    p.skipChildren();
                } else if (index != null) {
                    values[index] = value == JsonToken.VALUE_NULL ? null : p.getText();
                }
            }
        } catch (java.io.IOException e) {
            throw new SQLException("rate_limit_headers is not a JSON object", e);
        }
        return values;
    }

    /**
     * A header value as a number only when it is one: {@code ^[0-9]{1,15}(\.[0-9]{1,9})?$}, the pattern WindowReader
     * matches in SQL (checked here in one pass over at most 25 characters); NaN otherwise.
     */
    static double number(String text) {
        if (text == null) {
            return Double.NaN;
        }
        int n = text.length();
        int i = 0;
        while (i < n && i < 16 && isDigit(text.charAt(i))) {
            i++;
        }
        if (i == 0 || i > 15) {
            return Double.NaN;
        }
        if (i < n) {
            if (text.charAt(i) != '.') {
                return Double.NaN;
            }
            int j = i + 1;
            while (j < n && j - i <= 10 && isDigit(text.charAt(j))) {
                j++;
            }
            if (j != n || j - i - 1 < 1 || j - i - 1 > 9) {
                return Double.NaN;
            }
        }
        return Double.parseDouble(text);
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private List<DeploymentWindow> windows(Connection c, Instant from, Instant to, long bucketMillis)
            throws SQLException {
        Set<String> active = new HashSet<>(WindowReader.activeProviders(c, from));
        long fromUs = micros(from);
        long toUs = micros(to);
        long bucketUs = bucketMillis * 1000;
        int buckets = (int) Math.max(1, (to.toEpochMilli() - from.toEpochMilli() + bucketMillis - 1) / bucketMillis);
        List<DeploymentWindow> out = new ArrayList<>();
        // By provider and deployment: the same id under another provider is another deployment, with its own limits.
        Map<String, Latest> latestByDeployment = new HashMap<>();
        heldCalls = 0;
        Acc[] acc = new Acc[buckets];
        Map<String, Acc[]> byProvider = new TreeMap<>();
        Map<String, Integer> members = new HashMap<>();
        Map<String, Set<String>> listsByDeployment = new HashMap<>();
        for (Iterator<Held> it = held.values().iterator(); it.hasNext();) {
            Held h = it.next();
            // Out of this and every later window (slices never straddle from).
            h.calls.removeIf(call -> call.started < fromUs);
            h.slices.headMap(fromUs).clear();
            h.lists.values().removeIf(last -> last < fromUs);
            if (h.calls.isEmpty() && h.slices.isEmpty()) {
                it.remove();
                continue;
            }
            Arrays.fill(acc, null);
            Latest latest = latestByDeployment.computeIfAbsent(h.provider + "\u0000" + h.deployment,
                    k -> new Latest());
            boolean any = fold(h.calls, acc, latest, fromUs, toUs, bucketUs);
            any |= fold(h.slices.values(), acc, latest, fromUs, toUs, bucketUs);
            heldCalls += h.calls.size();
            for (Slice slice : h.slices.values()) {
                heldCalls += slice.calls;
            }
            if (!any || !active.contains(h.provider)) {
                continue;
            }
            members.merge(h.provider, 1, Integer::sum);
            Acc[] provider = byProvider.computeIfAbsent(h.provider, k -> new Acc[buckets]);
            fold(h.calls, provider, null, fromUs, toUs, bucketUs);
            fold(h.slices.values(), provider, null, fromUs, toUs, bucketUs);
            DeploymentWindow.Bucket[] built = new DeploymentWindow.Bucket[buckets];
            String group = null;
            for (int b = 0; b < buckets; b++) {
                if (acc[b] != null) {
                    built[b] = acc[b].bucket();
                    if (group == null) {
                        group = acc[b].group;
                    }
                }
            }
            out.add(new DeploymentWindow(h.provider, h.deployment, group, from, to, bucketMillis, built));
            if (!h.lists.isEmpty()) {
                listsByDeployment.put(h.provider + "\u0000" + h.deployment, Set.copyOf(h.lists.keySet()));
            }
        }
        List<DeploymentWindow> providers = new ArrayList<>();
        byProvider.forEach((provider, pacc) -> {
            if (members.get(provider) < 2) {
                return; // one deployment: its own window says it all
            }
            DeploymentWindow.Bucket[] built = new DeploymentWindow.Bucket[buckets];
            for (int b = 0; b < buckets; b++) {
                built[b] = pacc[b] == null ? null : pacc[b].bucket();
            }
            providers.add(new DeploymentWindow(provider, DeploymentWindow.PROVIDER_WIDE, null, from, to, bucketMillis,
                    built));
        });
        providerWindows = List.copyOf(providers);
        lists = listsByDeployment;
        resets.clear();
        latestByDeployment.forEach((deployment, latest) -> {
            DeploymentWindow.Reading[] r = new DeploymentWindow.Reading[SLOTS];
            boolean any = false;
            for (int sl = 0; sl < SLOTS; sl++) {
                if (latest.reset[sl] != null) {
                    r[sl] = new DeploymentWindow.Reading(0, 0, 1, -1, latest.reset[sl], instant(latest.ended[sl]));
                    any = true;
                }
            }
            if (any) {
                resets.put(deployment, r);
            }
        });
        return out;
    }

    /**
     * Adds the parts that lie in the window to their buckets' accumulators (made on first use) and, with a
     * {@code latest}, their reset headers to it; returns whether any lay in the window.
     */
    private static boolean fold(Iterable<? extends Part> parts, Acc[] acc, Latest latest, long fromUs, long toUs,
            long bucketUs) {
        boolean any = false;
        for (Part part : parts) {
            long at = part.at();
            if (at >= toUs) {
                continue; // after the window (a caller's clock ahead of ours): held for a later tick
            }
            if (latest != null && part.hasReset()) {
                part.into(latest);
            }
            int b = (int) Math.floorDiv(at - fromUs, bucketUs);
            if (b < 0 || b >= acc.length) {
                continue;
            }
            if (acc[b] == null) {
                acc[b] = new Acc(fromUs);
            }
            part.into(acc[b]);
            any = true;
        }
        return any;
    }

    /**
     * Per limit type, the latest call of a deployment (a provider's, as the SQL reads it) carrying its reset header:
     * its start, header and end. The first of equal starts wins, in the order the calls were held.
     */
    private static final class Latest {
        final long[] started = new long[SLOTS];
        final String[] reset = new String[SLOTS];
        final long[] ended = new long[SLOTS];

        void add(Call call) {
            for (int sl = 0; sl < SLOTS; sl++) {
                if (call.reset[sl] != null && (reset[sl] == null || call.started > started[sl])) {
                    started[sl] = call.started;
                    reset[sl] = call.reset[sl];
                    ended[sl] = call.ended;
                }
            }
        }

        void add(Slice slice) {
            for (int sl = 0; sl < SLOTS; sl++) {
                if (slice.reset[sl] != null && (reset[sl] == null || slice.resetStarted[sl] > started[sl])) {
                    started[sl] = slice.resetStarted[sl];
                    reset[sl] = slice.reset[sl];
                    ended[sl] = slice.resetEnded[sl];
                }
            }
        }
    }

    /**
     * The calls of one deployment that started within one slice: what a bucket aggregates, summed, and the
     * successful calls' latencies. The arrays of failures, header readings and resets exist only once a call
     * brings one.
     */
    private static final class Slice implements Part {
        final long start;
        int calls;
        int ok;
        float[] latencies;
        String group;
        int[] failed;
        long[] first;
        long[] last;
        double[] remainingSum;
        /** Ended times of the readings as offsets from the slice's start (a long cannot hold many epoch µs). */
        long[] endedSum;
        int[] readings;
        double[] limit;
        String[] reset;
        long[] resetStarted;
        long[] resetEnded;

        Slice(long start) {
            this.start = start;
        }

        @Override
        public long at() {
            return start;
        }

        @Override
        public boolean hasReset() {
            return reset != null;
        }

        void add(Call call) {
            calls++;
            if (call.group != null && (group == null || call.group.compareTo(group) > 0)) {
                group = call.group;
            }
            if (call.success) {
                if (latencies == null) {
                    latencies = new float[2];
                } else if (ok == latencies.length) {
                    latencies = Arrays.copyOf(latencies, ok * 2);
                }
                latencies[ok++] = (float) call.latency;
            }
            for (int t = 0; t < TYPES; t++) {
                if (call.failed(t)) {
                    if (failed == null) {
                        failed = new int[TYPES];
                        first = new long[TYPES];
                        last = new long[TYPES];
                    }
                    if (failed[t]++ == 0) {
                        first[t] = call.ended;
                        last[t] = call.ended;
                    } else {
                        first[t] = Math.min(first[t], call.ended);
                        last[t] = Math.max(last[t], call.ended);
                    }
                }
            }
            for (int sl = 0; sl < SLOTS; sl++) {
                boolean remaining = !Double.isNaN(call.remaining[sl]);
                boolean limited = !Double.isNaN(call.limit[sl]);
                if ((remaining || limited) && readings == null) {
                    remainingSum = new double[SLOTS];
                    endedSum = new long[SLOTS];
                    readings = new int[SLOTS];
                    limit = new double[] { Double.NaN, Double.NaN, Double.NaN, Double.NaN };
                }
                if (remaining) {
                    remainingSum[sl] += call.remaining[sl];
                    endedSum[sl] += call.ended - start;
                    readings[sl]++;
                }
                if (limited && (Double.isNaN(limit[sl]) || call.limit[sl] > limit[sl])) {
                    limit[sl] = call.limit[sl];
                }
                if (call.reset != null && call.reset[sl] != null) {
                    if (reset == null) {
                        reset = new String[SLOTS];
                        resetStarted = new long[SLOTS];
                        resetEnded = new long[SLOTS];
                    }
                    // the first of equal starts wins, in the order the calls were held
                    if (reset[sl] == null || call.started > resetStarted[sl]) {
                        reset[sl] = call.reset[sl];
                        resetStarted[sl] = call.started;
                        resetEnded[sl] = call.ended;
                    }
                }
            }
        }
    }

    /** One bucket's running aggregates, the same as the SQL's {@code group by provider, deployment, b}. */
    private static final class Acc {
        int calls;
        int ok;
        float[] latencies = new float[8];
        String group;
        final int[] failed = new int[TYPES];
        final long[] first = new long[TYPES];
        final long[] last = new long[TYPES];
        final double[] remainingSum = new double[SLOTS];
        final long[] endedSum = new long[SLOTS];
        final int[] readings = new int[SLOTS];
        final double[] limit = { Double.NaN, Double.NaN, Double.NaN, Double.NaN };
        /** Ended times are summed as offsets from here: epoch microseconds would overflow a long past 4,600 calls. */
        final long base;

        Acc(long base) {
            this.base = base;
        }

        void add(Call call) {
            calls++;
            if (call.group != null && (group == null || call.group.compareTo(group) > 0)) {
                group = call.group;
            }
            if (call.success) {
                if (ok == latencies.length) {
                    latencies = Arrays.copyOf(latencies, ok * 2);
                }
                latencies[ok++] = (float) call.latency;
            }
            for (int t = 0; t < TYPES; t++) {
                if (call.failed(t)) {
                    if (failed[t]++ == 0) {
                        first[t] = call.ended;
                        last[t] = call.ended;
                    } else {
                        first[t] = Math.min(first[t], call.ended);
                        last[t] = Math.max(last[t], call.ended);
                    }
                }
            }
            for (int sl = 0; sl < SLOTS; sl++) {
                if (!Double.isNaN(call.remaining[sl])) {
                    remainingSum[sl] += call.remaining[sl];
                    endedSum[sl] += call.ended - base;
                    readings[sl]++;
                }
                if (!Double.isNaN(call.limit[sl]) && (Double.isNaN(limit[sl]) || call.limit[sl] > limit[sl])) {
                    limit[sl] = call.limit[sl];
                }
            }
        }

        void add(Slice slice) {
            calls += slice.calls;
            if (slice.group != null && (group == null || slice.group.compareTo(group) > 0)) {
                group = slice.group;
            }
            if (slice.ok > 0) {
                if (ok + slice.ok > latencies.length) {
                    latencies = Arrays.copyOf(latencies, Math.max(ok + slice.ok, ok * 2));
                }
                System.arraycopy(slice.latencies, 0, latencies, ok, slice.ok);
                ok += slice.ok;
            }
            if (slice.failed != null) {
                for (int t = 0; t < TYPES; t++) {
                    int n = slice.failed[t];
                    if (n == 0) {
                        continue;
                    }
                    if (failed[t] == 0) {
                        first[t] = slice.first[t];
                        last[t] = slice.last[t];
                    } else {
                        first[t] = Math.min(first[t], slice.first[t]);
                        last[t] = Math.max(last[t], slice.last[t]);
                    }
                    failed[t] += n;
                }
            }
            if (slice.readings != null) {
                for (int sl = 0; sl < SLOTS; sl++) {
                    if (slice.readings[sl] > 0) {
                        remainingSum[sl] += slice.remainingSum[sl];
                        endedSum[sl] += slice.endedSum[sl] + slice.readings[sl] * (slice.start - base);
                        readings[sl] += slice.readings[sl];
                    }
                    if (!Double.isNaN(slice.limit[sl]) && (Double.isNaN(limit[sl]) || slice.limit[sl] > limit[sl])) {
                        limit[sl] = slice.limit[sl];
                    }
                }
            }
        }

        DeploymentWindow.Bucket bucket() {
            Double p50 = null;
            Double p95 = null;
            if (ok > 0) {
                double[] sorted = new double[ok];
                for (int i = 0; i < ok; i++) {
                    sorted[i] = latencies[i];
                }
                Arrays.sort(sorted);
                p50 = WindowReader.percentile(sorted, 0.5);
                p95 = WindowReader.percentile(sorted, 0.95);
            }
            Instant[] firstAt = new Instant[TYPES];
            Instant[] lastAt = new Instant[TYPES];
            for (int t = 0; t < TYPES; t++) {
                if (failed[t] > 0) {
                    firstAt[t] = instant(first[t]);
                    lastAt[t] = instant(last[t]);
                }
            }
            DeploymentWindow.Reading[] headroom = new DeploymentWindow.Reading[SLOTS];
            for (int s = 0; s < SLOTS; s++) {
                if (readings[s] > 0) {
                    headroom[s] = new DeploymentWindow.Reading(remainingSum[s] / readings[s],
                            (base + endedSum[s] / (double) readings[s]) / 1e6, readings[s],
                            Double.isNaN(limit[s]) ? -1 : limit[s], null, null);
                }
            }
            return new DeploymentWindow.Bucket(calls, ok, p50, p95, failed.clone(), firstAt, lastAt, headroom);
        }
    }

    private static long micros(Instant t) {
        return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000L), t.getNano() / 1000);
    }

    private static Instant instant(long micros) {
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000);
    }

    private static Timestamp timestamp(long micros) {
        return Timestamp.from(instant(micros));
    }
}
