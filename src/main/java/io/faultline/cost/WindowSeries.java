package io.faultline.cost;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * Usage of one deployment, model or key in fixed windows: the open window and up to {@code history} closed ones.
 * Calls are placed by their own end time, so replays and late batches land where they belong; a call for a window
 * already closed is added to it but does not re-open its verdict. Not thread-safe: {@link UsageWindows} locks it.
 */
final class WindowSeries {

    /** The totals of one window. */
    static final class Window {
        final Instant start;
        long calls;
        long tokens;
        long reasoningTokens;
        long cacheKnown;
        long cacheHits;
        long promptTokens;
        long cachedTokens;

        Window(Instant start) {
            this.start = start;
        }

        /** LiteLLM's own cache (the proxy answered from its cache), over calls that say either way. */
        double proxyHitRatio() {
            return cacheKnown == 0 ? Double.NaN : (double) cacheHits / cacheKnown;
        }

        /** The provider's prompt cache: the share of prompt tokens read from it. */
        double promptCacheRatio() {
            return promptTokens == 0 ? Double.NaN : (double) cachedTokens / promptTokens;
        }
    }

    final String key;
    final String provider;
    final String subject;
    private final long windowMillis;
    private final int history;
    private final Deque<Window> closed = new ArrayDeque<>();
    private Window open;

    WindowSeries(String key, String provider, String subject, long windowMillis, int history) {
        this.key = key;
        this.provider = provider;
        this.subject = subject;
        this.windowMillis = windowMillis;
        this.history = history;
    }

    Instant align(Instant at) {
        long millis = at.toEpochMilli();
        return Instant.ofEpochMilli(millis - Math.floorMod(millis, windowMillis));
    }

    /**
     * The window of {@code at}, closing the open one first when {@code at} is past it; a closed window is returned
     * through {@code justClosed} so that the caller judges it once.
     */
    Window windowFor(Instant at, List<Window> justClosed) {
        Instant start = align(at);
        if (open == null) {
            open = new Window(start);
            return open;
        }
        if (start.equals(open.start)) {
            return open;
        }
        if (start.isAfter(open.start)) {
            justClosed.add(open);
            push(open);
            open = new Window(start);
            return open;
        }
        for (Window w : closed) {
            if (w.start.equals(start)) {
                return w;
            }
        }
        return null; // older than the history: it no longer matters
    }

    /** Closes the open window if it ended before {@code cutoff}; returns it, or null. */
    Window closeIfEnded(Instant cutoff) {
        if (open == null || open.start.plusMillis(windowMillis).isAfter(cutoff)) {
            return null;
        }
        Window ended = open;
        push(ended);
        open = null;
        return ended;
    }

    /** Closed windows before {@code window}, newest first. */
    List<Window> before(Window window) {
        List<Window> out = new ArrayList<>(closed.size());
        for (Window w : closed) {
            if (w.start.isBefore(window.start)) {
                out.add(w);
            }
        }
        return out;
    }

    Instant end(Window window) {
        return window.start.plusMillis(windowMillis);
    }

    private void push(Window window) {
        closed.addFirst(window);
        while (closed.size() > history) {
            closed.removeLast();
        }
    }

    /** A closed window rebuilt from stored calls (oldest first), after a restart. */
    void seedClosed(Window window) {
        push(window);
    }
}
