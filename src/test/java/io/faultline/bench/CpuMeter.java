package io.faultline.bench;

import javax.sql.DataSource;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.stream.Stream;

/**
 * CPU time of this JVM and of the PostgreSQL server it writes to, so that a bench can say where a call's CPU goes.
 * On a machine whose cores are saturated, throughput moves with the load of each moment; CPU time per call moves
 * much less, and it splits the cost between the service and the database. Linux only (reads {@code /proc}).
 */
final class CpuMeter {

    /** Clock ticks per second of {@code /proc/<pid>/stat} (USER_HZ, 100 on Linux). */
    private static final double TICKS = 100.0;

    private final long postmaster;

    private CpuMeter(long postmaster) {
        this.postmaster = postmaster;
    }

    /** The meter of the server behind {@code dataSource}: its postmaster, from {@code postmaster.pid}. */
    static CpuMeter of(DataSource dataSource) throws SQLException, IOException {
        try (Connection c = dataSource.getConnection(); Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("show data_directory")) {
            rs.next();
            String first = Files.readAllLines(Path.of(rs.getString(1), "postmaster.pid")).get(0).trim();
            return new CpuMeter(Long.parseLong(first));
        }
    }

    /** CPU seconds so far: this JVM's, and the server's (the postmaster, its reaped and its live backends). */
    Snapshot now() throws IOException {
        long jvm = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
        long ticks = 0;
        long[] own = stat(postmaster);
        if (own != null) {
            ticks += own[1] + own[2] + own[3] + own[4];
        }
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (!name.chars().allMatch(Character::isDigit)) {
                    continue;
                }
                long[] child = stat(Long.parseLong(name));
                if (child != null && child[0] == postmaster) {
                    ticks += child[1] + child[2];
                }
            }
        }
        return new Snapshot(jvm / 1e9, ticks / TICKS);
    }

    /** One thread's kind ({@link #group}) and its CPU seconds so far. */
    record ThreadCpu(String group, double seconds) {
    }

    /**
     * This JVM's threads by id with their CPU seconds so far and their kind (the kernel's 15-character thread names,
     * grouped): request workers, the HTTP event loop, JIT compilers, garbage collection, the bench's clients, the
     * rest. Compare two readings with {@link #byGroup}.
     */
    static java.util.Map<Long, ThreadCpu> threads() throws IOException {
        java.util.Map<Long, ThreadCpu> threads = new java.util.HashMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                String text;
                try {
                    text = Files.readString(t.resolve("stat"));
                } catch (IOException | RuntimeException e) {
                    continue; // exited meanwhile
                }
                String name = text.substring(text.indexOf('(') + 1, text.lastIndexOf(')'));
                String[] f = text.substring(text.lastIndexOf(')') + 2).split(" ");
                threads.put(Long.parseLong(t.getFileName().toString()),
                        new ThreadCpu(group(name), (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS));
            }
        }
        return threads;
    }

    /**
     * CPU seconds per kind of thread between two readings: each thread alive at the second counts what it spent
     * since the first (all of it when it started in between). A thread that ended in between is not counted: its
     * time since the first reading is gone with it (summing by kind at each end made such a kind negative).
     */
    static java.util.Map<String, Double> byGroup(java.util.Map<Long, ThreadCpu> earlier,
            java.util.Map<Long, ThreadCpu> later) {
        java.util.Map<String, Double> seconds = new java.util.TreeMap<>();
        later.forEach((tid, now) -> {
            ThreadCpu then = earlier.get(tid);
            seconds.merge(now.group(), now.seconds() - (then == null ? 0 : then.seconds()), Double::sum);
        });
        return seconds;
    }

    private static String group(String thread) {
        if (thread.startsWith("executor-thr")) {
            return "request workers";
        }
        if (thread.startsWith("vert.x-eventl")) {
            return "HTTP event loop";
        }
        if (thread.startsWith("C1 Compiler") || thread.startsWith("C2 Compiler")) {
            return "JIT compilers";
        }
        if (thread.startsWith("GC Thread") || thread.startsWith("G1 ")) {
            return "garbage collection";
        }
        if (thread.startsWith("pool-")) {
            return "bench clients";
        }
        return "other";
    }

    /** {@code later - earlier} per group, per call, in microseconds. */
    static String perCall(java.util.Map<String, Double> earlier, java.util.Map<String, Double> later, double calls) {
        StringBuilder out = new StringBuilder();
        later.forEach((group, s) -> out.append(out.length() == 0 ? "" : ", ").append(group).append(' ')
                .append(String.format(java.util.Locale.ROOT, "%.1f",
                        (s - earlier.getOrDefault(group, 0.0)) * 1e6 / calls)));
        return out.toString();
    }

    /** ppid, utime, stime, cutime, cstime of a process, or null when it is gone. */
    private static long[] stat(long pid) {
        String text;
        try {
            text = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        } catch (IOException | RuntimeException e) {
            return null; // exited meanwhile
        }
        // The command name (field 2) is in parentheses and may hold spaces: fields count from the last ')'.
        String[] f = text.substring(text.lastIndexOf(')') + 2).split(" ");
        return new long[] { Long.parseLong(f[1]), Long.parseLong(f[11]), Long.parseLong(f[12]),
                Long.parseLong(f[13]), Long.parseLong(f[14]) };
    }

    /** CPU seconds of the JVM and of the database server at one moment. */
    record Snapshot(double jvm, double database) {

        Snapshot minus(Snapshot earlier) {
            return new Snapshot(jvm - earlier.jvm, database - earlier.database);
        }

        Snapshot plus(Snapshot other) {
            return new Snapshot(jvm + other.jvm, database + other.database);
        }
    }
}
