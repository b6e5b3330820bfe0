package io.faultline.testing;

import javax.net.SocketFactory;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.InputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Counts the PostgreSQL round trips a thread makes: a socket factory for PgJDBC ({@code socketFactory}, with
 * {@code sslmode=disable} so that the protocol is readable). For the thread that is {@link #record recording}, a
 * round trip is a read from the socket after messages were sent (the driver waits for the server's answer), named by
 * the statements and protocol messages sent since the previous one. A count, not a time: the machine's load does
 * not change it.
 */
public final class RoundTrips extends SocketFactory {

    /** What one recorded stretch sent: a line per round trip naming the statements in it. */
    public record Tally(List<String> roundTrips, int statements) {

        public int count() {
            return roundTrips.size();
        }

        @Override
        public String toString() {
            return roundTrips.size() + " round trips, " + statements + " statements:\n  "
                    + String.join("\n  ", roundTrips);
        }
    }

    /**
     * The recording, shared through the system properties while it runs: PgJDBC loads this factory by name with a
     * class loader of its own, so that the test's class and the socket's are two classes with two sets of statics.
     * Only JDK types cross: the recording thread, a list of the round trips, the statements not yet sent with one,
     * the statements run. The entry is there only while {@link #record} runs: a value that is not a string in the
     * system properties fails every later Quarkus start (Narayana copies them with {@code setProperty}).
     */
    private static final String KEY = "faultline.test.round-trips";

    /** Runs {@code work} on this thread and returns the round trips it made. */
    public static Tally record(Runnable work) {
        List<Object> r = List.of(new ArrayList<String>(), new ArrayList<String>(), new int[1]);
        if (System.getProperties().putIfAbsent(KEY, List.of(Thread.currentThread(), r)) != null) {
            throw new IllegalStateException("one recording at a time");
        }
        try {
            work.run();
        } finally {
            System.getProperties().remove(KEY);
        }
        return new Tally(List.copyOf(roundTrips(r)), ((int[]) r.get(2))[0]);
    }

    /** This thread's recording, or null. */
    @SuppressWarnings("unchecked")
    private static List<Object> recording() {
        Object entry = System.getProperties().get(KEY);
        if (entry instanceof List<?> e && e.get(0) == Thread.currentThread()) {
            return (List<Object>) e.get(1);
        }
        return null;
    }

    @SuppressWarnings("unchecked")
    private static List<String> roundTrips(List<Object> r) {
        return (List<String>) r.get(0);
    }

    @SuppressWarnings("unchecked")
    private static List<String> pending(List<Object> r) {
        return (List<String>) r.get(1);
    }

    public RoundTrips() {
    }

    @Override
    public Socket createSocket() {
        return new Counted();
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
        Socket s = new Counted();
        s.connect(new java.net.InetSocketAddress(host, port));
        return s;
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
        return createSocket(host, port);
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
        return createSocket(host.getHostAddress(), port);
    }

    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
            throws IOException {
        return createSocket(address.getHostAddress(), port);
    }

    private static final class Counted extends Socket {
        private OutputStream out;
        private InputStream in;

        @Override
        public synchronized OutputStream getOutputStream() throws IOException {
            if (out == null) {
                out = new Parser(super.getOutputStream());
            }
            return out;
        }

        @Override
        public synchronized InputStream getInputStream() throws IOException {
            if (in == null) {
                in = new FilterInputStream(super.getInputStream()) {
                    @Override
                    public int read() throws IOException {
                        waits();
                        return super.read();
                    }

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        waits();
                        return super.read(b, off, len);
                    }
                };
            }
            return in;
        }
    }

    /** The first read after messages were sent: the driver waits for the server's answer, one round trip. */
    private static void waits() {
        List<Object> r = recording();
        if (r == null || pending(r).isEmpty()) {
            return;
        }
        StringBuilder line = new StringBuilder();
        for (String q : pending(r)) {
            String flat = q.replaceAll("\\s+", " ");
            line.append(line.isEmpty() ? "" : " ").append('[').append(flat, 0, Math.min(80, flat.length())).append(']');
        }
        pending(r).clear();
        roundTrips(r).add(line.toString());
    }

    /** Reads the frontend message stream as it is written. */
    private static final class Parser extends FilterOutputStream {
        /** Named statements of this connection, by name, so that a reused one is named by its text. */
        private final Map<String, String> prepared = new HashMap<>();
        private boolean started;
        private final byte[] header = new byte[5];
        private int headerFill;
        private byte[] body;
        private int bodyFill;

        Parser(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            take((byte) b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            for (int i = 0; i < len; i++) {
                take(b[off + i]);
            }
        }

        private void take(byte b) {
            // Before the startup message: untyped messages (SSLRequest, GSSENCRequest, StartupMessage).
            int headerSize = started ? 5 : 4;
            if (body == null) {
                header[headerFill++] = b;
                if (headerFill == headerSize) {
                    int at = started ? 1 : 0;
                    int length = ((header[at] & 0xff) << 24) | ((header[at + 1] & 0xff) << 16)
                            | ((header[at + 2] & 0xff) << 8) | (header[at + 3] & 0xff);
                    body = new byte[length - 4];
                    bodyFill = 0;
                    if (body.length == 0) {
                        done();
                    }
                }
                return;
            }
            body[bodyFill++] = b;
            if (bodyFill == body.length) {
                done();
            }
        }

        private void done() {
            if (!started) {
                // A StartupMessage carries protocol 3.0 (196608); the requests before it carry their own codes.
                int code = ((body[0] & 0xff) << 24) | ((body[1] & 0xff) << 16) | ((body[2] & 0xff) << 8)
                        | (body[3] & 0xff);
                started = code == 196608;
            } else {
                message((char) header[0], body);
            }
            headerFill = 0;
            body = null;
        }

        private void message(char type, byte[] b) {
            if (type == 'P') {
                int end = zero(b, 0);
                String name = new String(b, 0, end, StandardCharsets.UTF_8);
                int queryEnd = zero(b, end + 1);
                String query = new String(b, end + 1, queryEnd - end - 1, StandardCharsets.UTF_8);
                if (!name.isEmpty()) {
                    prepared.put(name, query);
                }
                note(query);
                return;
            }
            List<Object> r = recording();
            if (r == null) {
                return;
            }
            switch (type) {
                case 'B' -> {
                    int portalEnd = zero(b, 0);
                    int nameEnd = zero(b, portalEnd + 1);
                    String name = new String(b, portalEnd + 1, nameEnd - portalEnd - 1, StandardCharsets.UTF_8);
                    if (!name.isEmpty() && prepared.containsKey(name)) {
                        note(prepared.get(name));
                    }
                }
                case 'E' -> ((int[]) r.get(2))[0]++;
                case 'Q' -> {
                    ((int[]) r.get(2))[0]++;
                    note(new String(b, 0, Math.max(0, b.length - 1), StandardCharsets.UTF_8));
                }
                case 'S' -> note("Sync");
                case 'd' -> note("CopyData");
                case 'c' -> note("CopyDone");
                default -> {
                }
            }
        }

        private static void note(String query) {
            List<Object> r = recording();
            if (r != null && !(query.equals("CopyData") && pending(r).contains(query))) {
                pending(r).add(query);
            }
        }

        private static int zero(byte[] b, int from) {
            int i = from;
            while (i < b.length && b[i] != 0) {
                i++;
            }
            return i;
        }
    }
}
