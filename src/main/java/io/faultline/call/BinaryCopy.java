package io.faultline.call;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;

/**
 * Rows in PostgreSQL's binary {@code COPY} format (the documented file format of {@code COPY ... (format binary)}):
 * a signature and header, then per row a 16-bit field count and per field a 32-bit length (-1 for NULL) and the value
 * in the type's binary send format, then a -1 trailer. Only the types {@code llm_calls} uses: text, boolean, integer,
 * bigint, double precision, timestamptz (microseconds since 2000-01-01 UTC) and jsonb (version byte 1, then text).
 */
final class BinaryCopy {

    private static final byte[] SIGNATURE = { 'P', 'G', 'C', 'O', 'P', 'Y', '\n', (byte) 0xff, '\r', '\n', 0 };
    /** 2000-01-01T00:00:00Z, PostgreSQL's epoch, in seconds since 1970. */
    private static final long PG_EPOCH_SECONDS = 946_684_800L;

    private byte[] buf;
    private int size;

    BinaryCopy(int capacity) {
        buf = new byte[Math.max(64, capacity)];
        put(SIGNATURE);
        putInt(0); // flags: no OIDs
        putInt(0); // header extension length
    }

    void row(int fields) {
        putShort(fields);
    }

    void end() {
        putShort(-1);
    }

    byte[] bytes() {
        return buf;
    }

    int size() {
        return size;
    }

    void text(String value) {
        if (value == null) {
            putInt(-1);
            return;
        }
        byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
        putInt(utf8.length);
        put(utf8);
    }

    void jsonb(String json) {
        byte[] utf8 = json.getBytes(StandardCharsets.UTF_8);
        putInt(utf8.length + 1);
        ensure(1);
        buf[size++] = 1;
        put(utf8);
    }

    void bool(Boolean value) {
        if (value == null) {
            putInt(-1);
            return;
        }
        putInt(1);
        ensure(1);
        buf[size++] = (byte) (value ? 1 : 0);
    }

    void int4(Integer value) {
        if (value == null) {
            putInt(-1);
            return;
        }
        putInt(4);
        putInt(value);
    }

    void int8(long value) {
        putInt(8);
        putLong(value);
    }

    void float8(Double value) {
        if (value == null) {
            putInt(-1);
            return;
        }
        putInt(8);
        putLong(Double.doubleToRawLongBits(value));
    }

    void timestamp(Instant value) {
        if (value == null) {
            putInt(-1);
            return;
        }
        putInt(8);
        putLong(pgMicros(value));
    }

    /**
     * Microseconds since PostgreSQL's epoch, truncated as PostgreSQL keeps them (the mapper's instants are whole
     * microseconds). An instant too far for a long becomes the extreme value next to infinity, which PostgreSQL
     * refuses as out of range (SQLSTATE 22008) like any other time past 294276 AD, instead of storing infinity.
     */
    static long pgMicros(Instant instant) {
        try {
            return Math.addExact(Math.multiplyExact(instant.getEpochSecond() - PG_EPOCH_SECONDS, 1_000_000L),
                    instant.getNano() / 1000);
        } catch (ArithmeticException e) {
            return instant.getEpochSecond() > 0 ? Long.MAX_VALUE - 1 : Long.MIN_VALUE + 1;
        }
    }

    private void putShort(int v) {
        ensure(2);
        buf[size++] = (byte) (v >>> 8);
        buf[size++] = (byte) v;
    }

    private void putInt(int v) {
        ensure(4);
        buf[size++] = (byte) (v >>> 24);
        buf[size++] = (byte) (v >>> 16);
        buf[size++] = (byte) (v >>> 8);
        buf[size++] = (byte) v;
    }

    private void putLong(long v) {
        putInt((int) (v >>> 32));
        putInt((int) v);
    }

    private void put(byte[] bytes) {
        ensure(bytes.length);
        System.arraycopy(bytes, 0, buf, size, bytes.length);
        size += bytes.length;
    }

    private void ensure(int more) {
        if (size + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + more));
        }
    }
}
