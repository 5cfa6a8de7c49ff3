-- No route for test patients, part 1: the normal routing. Every instance
-- goes to the PACS and the cloud archive.
-- Destinations this example expects: "pacs", "cloud".

function route(instance)
  return { { destination = "pacs" }, { destination = "cloud" } }
end
