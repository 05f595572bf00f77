-- ARGV: ref. Offer one waiting item to the best agent that can take it (after a restore).
local it = load_item(ARGV[4])
if it then match_item(it) end
return done()
