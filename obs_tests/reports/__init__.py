"""What a run leaves behind for people and CI: the check report (JSON, HTML, Markdown) and JUnit XML."""
