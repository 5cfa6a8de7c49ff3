-- The default rule set of `./appliance run`: every instance goes to the
-- destination "out", a folder destination writing under ./var/out,
-- transcoded to JPEG-LS lossless (pixel-exact; an image that cannot be
-- encoded so, e.g. 1-bit, is written as received), tags unchanged.
--
-- To change it, edit this function or add more *.lua files to this folder
-- (all of them are loaded in name order into one environment; a later file
-- may redefine route()). Try a rule set offline before reloading it:
--
--   orthanc-router-rules rules/ some.dcm --origin calling_aet=CT01
--
-- Then POST /router/rules/reload (or save the file: the router reloads on
-- change). Examples for real cases are in rules/examples/; the helpers they
-- use (match, one_of, starts_with, between_hours, is_weekend, route_to, log,
-- ...) are documented in lua/prelude.lua and the README.
--
-- For instance, to send it as received instead:
--   return { { destination = "out" } }

function route(instance)
  return { { destination = "out", transfer_syntax = "JPEGLSLossless" } }
end
