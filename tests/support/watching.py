"""The standing-question tests' stories: a question on the Grindavik eruption, an article that changes
its answer (and one that changes it again), and one that has nothing to do with it."""

QUESTION = "What happened with the volcano eruption near Grindavik?"
UNRELATED = (
    "Ferry timetable changes for the summer season",
    "The harbour ferry company published its summer timetable with extra sailings to the islands on "
    "weekends, and ticket prices stay the same as last year, the company said.",
)
RELATED = (
    "Grindavik volcano eruption ends as lava stops flowing",
    "The volcano eruption near Grindavik ended on Thursday when the lava stopped flowing from the fissure, "
    "geologists said, and residents of Grindavik were allowed to return to the town.",
)
AGAIN = (
    "Grindavik volcano eruption starts again near the town",
    "A new volcano eruption near Grindavik started again on Sunday with lava from a new fissure near "
    "the town, geologists said, and residents of Grindavik were evacuated once more.",
)
