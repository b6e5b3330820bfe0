package io.faultline.bench;

import org.HdrHistogram.Histogram;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** The benches' load: a fixed number of clients, each sending the next unsent request as soon as its last returns. */
final class ClosedLoop {

    interface Sender<T> {
        void send(T request) throws Exception;
    }

    /** CPU time the clients of every run so far spent themselves (sending, waiting excluded), in nanoseconds. */
    static final AtomicLong CLIENT_CPU_NANOS = new AtomicLong();

    private ClosedLoop() {
    }

    /** Sends every request once from {@code clients} threads, recording each send in microseconds; the seconds. */
    static <T> double run(List<T> requests, int clients, Sender<T> sender, Histogram latencyMicros) throws Exception {
        AtomicInteger cursor = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long start = System.nanoTime();
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < clients; t++) {
                futures.add(pool.submit(() -> {
                    java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory
                            .getThreadMXBean();
                    long cpu0 = threads.getCurrentThreadCpuTime();
                    int i;
                    while ((i = cursor.getAndIncrement()) < requests.size()) {
                        long t0 = System.nanoTime();
                        sender.send(requests.get(i));
                        synchronized (latencyMicros) {
                            latencyMicros.recordValue((System.nanoTime() - t0) / 1000);
                        }
                    }
                    CLIENT_CPU_NANOS.addAndGet(threads.getCurrentThreadCpuTime() - cpu0);
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
            return (System.nanoTime() - start) / 1e9;
        } finally {
            pool.shutdown();
        }
    }
}
