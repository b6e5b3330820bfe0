-- A failed response is a request none of whose attempts answered (README "Impact"); a delivered answer that a quality
-- or timeout episode flagged used to count as one too. The running sums were kept by the old rule: the fold state is
-- dropped, and the next assessment of each subject folds it anew (stored figures of subjects no longer re-assessed
-- keep their last ones until an assessment on demand).
delete from impact_state;
