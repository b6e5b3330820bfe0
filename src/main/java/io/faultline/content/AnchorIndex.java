package io.faultline.content;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds which of a fixed set of strings occur in a text in one pass (Aho-Corasick), instead of one
 * {@code indexOf} per string: the injection heuristics have a few hundred anchor words, and most messages contain
 * almost none of them. Immutable after construction and thread-safe.
 */
final class AnchorIndex {

    private final char[][] keys;
    private final int[][] targets;
    private final int[] fail;
    private final int[][] outputs;
    private final int size;
    /** The start state's transitions for ASCII (-1: none), where a scan spends most of its steps. */
    private final int[] rootAscii = new int[128];

    /** Builds the automaton; {@link #find} reports the index of each string in {@code words}. */
    AnchorIndex(List<String> words) {
        List<Map<Character, Integer>> next = new ArrayList<>();
        List<List<Integer>> out = new ArrayList<>();
        next.add(new HashMap<>());
        out.add(new ArrayList<>());
        for (int w = 0; w < words.size(); w++) {
            int state = 0;
            for (char c : words.get(w).toCharArray()) {
                Integer to = next.get(state).get(c);
                if (to == null) {
                    to = next.size();
                    next.get(state).put(c, to);
                    next.add(new HashMap<>());
                    out.add(new ArrayList<>());
                }
                state = to;
            }
            out.get(state).add(w);
        }
        size = words.size();
        fail = new int[next.size()];
        Deque<Integer> queue = new ArrayDeque<>(next.get(0).values());
        while (!queue.isEmpty()) {
            int state = queue.poll();
            for (Map.Entry<Character, Integer> edge : next.get(state).entrySet()) {
                int child = edge.getValue();
                if (state != 0) {
                    // The longest proper suffix of the child's string that is a prefix of some word.
                    int f = fail[state];
                    while (f != 0 && !next.get(f).containsKey(edge.getKey())) {
                        f = fail[f];
                    }
                    Integer to = next.get(f).get(edge.getKey());
                    fail[child] = to == null ? 0 : to;
                }
                out.get(child).addAll(out.get(fail[child]));
                queue.add(child);
            }
        }
        keys = new char[next.size()][];
        targets = new int[next.size()][];
        outputs = new int[next.size()][];
        for (int s = 0; s < next.size(); s++) {
            List<Map.Entry<Character, Integer>> edges = new ArrayList<>(next.get(s).entrySet());
            edges.sort(Map.Entry.comparingByKey());
            keys[s] = new char[edges.size()];
            targets[s] = new int[edges.size()];
            for (int i = 0; i < edges.size(); i++) {
                keys[s][i] = edges.get(i).getKey();
                targets[s][i] = edges.get(i).getValue();
            }
            outputs[s] = out.get(s).stream().distinct().mapToInt(Integer::intValue).toArray();
        }
        Arrays.fill(rootAscii, -1);
        for (int i = 0; i < keys[0].length; i++) {
            if (keys[0][i] < 128) {
                rootAscii[keys[0][i]] = targets[0][i];
            }
        }
    }

    /** Which of the strings occur in {@code text}, by their index. */
    boolean[] find(CharSequence text) {
        boolean[] found = new boolean[size];
        int state = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int to;
            while ((to = step(state, c)) < 0 && state != 0) {
                state = fail[state];
            }
            state = Math.max(to, 0);
            for (int w : outputs[state]) {
                found[w] = true;
            }
        }
        return found;
    }

    private int step(int state, char c) {
        if (state == 0 && c < 128) {
            return rootAscii[c];
        }
        int at = Arrays.binarySearch(keys[state], c);
        return at < 0 ? -1 : targets[state][at];
    }
}
