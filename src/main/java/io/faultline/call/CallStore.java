package io.faultline.call;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.faultline.common.SqlTime;
import jakarta.enterprise.context.ApplicationScoped;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes calls. The ingest path uses {@link #copy}: one binary {@code COPY} per batch, the cheapest write PostgreSQL
 * has, for calls that the resend lookup found new; a call that a concurrent request stored meanwhile makes it fail
 * on the primary key, and the batch is then written with {@link #insert}: one multi-row
 * {@code INSERT ... ON CONFLICT DO NOTHING RETURNING} per chunk, a single round trip that also tells which calls were
 * new, so that resends are idempotent and classified only once.
 */
@ApplicationScoped
public class CallStore {

    private static final String[] COLUMNS = { "call_id", "started_at", "ended_at", "trace_id", "provider", "model",
            "model_group", "deployment", "api_base", "call_type", "stream", "success", "http_status", "error_class",
            "error_code", "error_message", "latency_ms", "ttft_ms", "prompt_tokens", "completion_tokens",
            "reasoning_tokens", "cached_tokens", "cost_usd", "cache_hit", "finish_reason", "response_chars",
            "user_ref", "team_id", "api_key_hash", "rate_limit_headers", "requester_metadata", "received_at", "input_cost_per_token",
            "output_cost_per_token", "cache_read_cost_per_token", "proxy_id" };
    // PostgreSQL allows 65535 bind parameters per statement; 500 rows x 36 columns stays well below.
    static final int CHUNK = 500;

    private static final String ROW = "(" + String.join(",", placeholders()) + ")";

    private final ObjectMapper json;

    public CallStore(ObjectMapper json) {
        this.json = json;
    }

    /** Inserts the calls and returns the {@link LlmCall#attemptKey()}s that were new (the others were resends). */
    public Set<LlmCall.Attempt> insert(Connection connection, List<LlmCall> calls, Instant receivedAt)
            throws SQLException {
        Set<LlmCall.Attempt> inserted = new HashSet<>(calls.size() * 2);
        for (int from = 0; from < calls.size(); from += CHUNK) {
            List<LlmCall> chunk = calls.subList(from, Math.min(calls.size(), from + CHUNK));
            try (PreparedStatement insert = connection.prepareStatement(sqlFor(chunk.size()))) {
                int p = 1;
                Timestamp received = Timestamp.from(receivedAt);
                for (LlmCall call : chunk) {
                    p = bind(insert, p, call, received);
                }
                try (ResultSet rs = insert.executeQuery()) {
                    while (rs.next()) {
                        inserted.add(new LlmCall.Attempt(rs.getString(1), rs.getTimestamp(2).toInstant()));
                    }
                }
            }
        }
        return inserted;
    }

    /**
     * Writes every call with one binary {@code COPY} (no conflict handling: the calls must be new, else the statement
     * fails with a unique violation, SQLSTATE 23505, and the transaction with it) and returns their
     * {@link LlmCall#attemptKey()}s.
     */
    public Set<LlmCall.Attempt> copy(Connection connection, List<LlmCall> calls, Instant receivedAt)
            throws SQLException {
        Set<LlmCall.Attempt> inserted = new HashSet<>(calls.size() * 2);
        if (calls.isEmpty()) {
            return inserted;
        }
        BinaryCopy rows = new BinaryCopy(calls.size() * 1024);

        for (LlmCall c : calls) {
            rows.row(COLUMNS.length);
            rows.text(c.callId());
            rows.timestamp(c.startedAt());
            rows.timestamp(c.endedAt());
            rows.text(c.traceId());
            rows.text(c.provider());
            rows.text(c.model());
            rows.text(c.modelGroup());
            rows.text(c.deployment());
            rows.text(c.apiBase());
            rows.text(c.callType());
            rows.bool(c.stream());
            rows.bool(c.success());
            rows.int4(c.httpStatus());
            rows.text(c.errorClass());
            rows.text(c.errorCode());
            rows.text(c.errorMessage());
            rows.float8(c.latencyMs());
            rows.float8(c.ttftMs());
            rows.int8(c.promptTokens());
            rows.int8(c.completionTokens());
            rows.int8(c.reasoningTokens());
            rows.int8(c.cachedTokens());
            rows.float8(c.costUsd());
            rows.bool(c.cacheHit());
            rows.text(c.finishReason());
            rows.int4(c.responseChars());
            rows.text(c.userRef());
            rows.text(c.teamId());
            rows.text(c.apiKeyHash());
            rows.jsonb(toJson(c.rateLimitHeaders()));
            rows.jsonb(toJson(c.requesterMetadata()));
            rows.timestamp(receivedAt);
            rows.float8(c.inputCostPerToken());
            rows.float8(c.outputCostPerToken());
            rows.float8(c.cacheReadCostPerToken());
            rows.text(c.proxyId());
            inserted.add(c.attemptKey());
        }
        rows.end();
        org.postgresql.copy.CopyIn in = connection.unwrap(org.postgresql.PGConnection.class).getCopyAPI()
                .copyIn(COPY_SQL);
        try {
            in.writeToCopy(rows.bytes(), 0, rows.size());
            in.endCopy();
        } finally {
            if (in.isActive()) {
                in.cancelCopy();
            }
        }
        return inserted;
    }

    private static final String COPY_SQL = "copy llm_calls (" + String.join(",", COLUMNS)
            + ") from stdin (format binary)";

    /**
     * The attempt keys of the calls that are stored already (same call id and start time): one query on the primary key,
     * limited to the partitions between the batch's earliest and latest start.
     */
    public Set<LlmCall.Attempt> alreadyStored(Connection connection, List<LlmCall> calls) throws SQLException {
        if (calls.isEmpty()) {
            return Set.of();
        }
        Set<String> ids = new HashSet<>(calls.size() * 2);
        Set<LlmCall.Attempt> keys = new HashSet<>(calls.size() * 2);
        Instant earliest = Instant.MAX;
        Instant latest = Instant.MIN;
        for (LlmCall call : calls) {
            ids.add(call.callId());
            keys.add(call.attemptKey());
            earliest = call.startedAt().isBefore(earliest) ? call.startedAt() : earliest;
            latest = call.startedAt().isAfter(latest) ? call.startedAt() : latest;
        }
        Set<LlmCall.Attempt> stored = new HashSet<>();
        try (PreparedStatement select = connection.prepareStatement("select call_id, started_at from llm_calls"
                + " where call_id = any (?) and started_at between ? and ?")) {
            select.setArray(1, connection.createArrayOf("text", ids.toArray()));
            SqlTime.set(select, 2, earliest);
            SqlTime.set(select, 3, latest);
            try (ResultSet rs = select.executeQuery()) {
                while (rs.next()) {
                    LlmCall.Attempt key = new LlmCall.Attempt(rs.getString(1), rs.getTimestamp(2).toInstant());
                    if (keys.contains(key)) {
                        stored.add(key);
                    }
                }
            }
        }
        return stored;
    }

    private int bind(PreparedStatement st, int p, LlmCall c, Timestamp received) throws SQLException {
        st.setString(p++, c.callId());
        st.setTimestamp(p++, Timestamp.from(c.startedAt()));
        st.setTimestamp(p++, Timestamp.from(c.endedAt()));
        st.setString(p++, c.traceId());
        st.setString(p++, c.provider());
        st.setString(p++, c.model());
        st.setString(p++, c.modelGroup());
        st.setString(p++, c.deployment());
        st.setString(p++, c.apiBase());
        st.setString(p++, c.callType());
        st.setBoolean(p++, c.stream());
        st.setBoolean(p++, c.success());
        setNullable(st, p++, c.httpStatus(), Types.INTEGER);
        st.setString(p++, c.errorClass());
        st.setString(p++, c.errorCode());
        st.setString(p++, c.errorMessage());
        st.setDouble(p++, c.latencyMs());
        setNullable(st, p++, c.ttftMs(), Types.DOUBLE);
        st.setLong(p++, c.promptTokens());
        st.setLong(p++, c.completionTokens());
        st.setLong(p++, c.reasoningTokens());
        st.setLong(p++, c.cachedTokens());
        st.setDouble(p++, c.costUsd());
        setNullable(st, p++, c.cacheHit(), Types.BOOLEAN);
        st.setString(p++, c.finishReason());
        st.setInt(p++, c.responseChars());
        st.setString(p++, c.userRef());
        st.setString(p++, c.teamId());
        st.setString(p++, c.apiKeyHash());
        st.setString(p++, toJson(c.rateLimitHeaders()));
        st.setString(p++, toJson(c.requesterMetadata()));
        st.setTimestamp(p++, received);
        setNullable(st, p++, c.inputCostPerToken(), Types.DOUBLE);
        setNullable(st, p++, c.outputCostPerToken(), Types.DOUBLE);
        setNullable(st, p++, c.cacheReadCostPerToken(), Types.DOUBLE);
        st.setString(p++, c.proxyId());
        return p;
    }

    private static void setNullable(PreparedStatement st, int index, Object value, int sqlType) throws SQLException {
        if (value == null) {
            st.setNull(index, sqlType);
        } else {
            st.setObject(index, value, sqlType);
        }
    }

    private String toJson(Map<String, ?> map) {
        try {
            return json.writeValueAsString(map);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("values from a parsed JSON payload always serialise", e);
        }
    }

    private String sqlFor(int rows) {
        StringBuilder sql = new StringBuilder(600 + rows * (ROW.length() + 1))
                .append("insert into llm_calls (").append(String.join(",", COLUMNS)).append(") values ");
        for (int i = 0; i < rows; i++) {
            sql.append(i == 0 ? "" : ",").append(ROW);
        }
        return sql.append(" on conflict (call_id, started_at) do nothing returning call_id, started_at").toString();
    }

    private static List<String> placeholders() {
        List<String> marks = new ArrayList<>(COLUMNS.length);
        for (String column : COLUMNS) {
            marks.add(column.equals("rate_limit_headers") || column.equals("requester_metadata") ? "?::jsonb" : "?");
        }
        return marks;
    }
}
