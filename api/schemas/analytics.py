"""Course analytics: the report of a course and its learners."""

from __future__ import annotations

from marshmallow import Schema, fields


class VideoMetricsSchema(Schema):
    video_id = fields.String(required=True)
    duration = fields.Float(required=True, allow_none=True, metadata={
        "description": "Seconds; null when no event gave one."})
    viewers = fields.Integer(required=True)
    watch_time_s = fields.Float(required=True, metadata={
        "description": "Content seconds played; rewatching counts again."})
    mean_coverage = fields.Float(required=True, allow_none=True, metadata={
        "description": "Mean share of the video each viewer saw (unique seconds / "
                       "duration)."})
    completed_eol_coverage_0_9 = fields.Integer(required=True, metadata={
        "description": "Viewers who saw at least 90 % of it."})
    completed_insights_end_reached = fields.Integer(required=True, metadata={
        "description": "Viewers who watched the segment at max(duration - 30 s, 95 %)."})
    users_at_start = fields.Integer(required=True)
    users_at_end = fields.Integer(required=True)


class CourseDaySchema(Schema):
    date = fields.String(required=True, metadata={"description": "A UTC day.", "format": "date"})
    learners = fields.Integer(required=True, metadata={
        "description": "Learners with an event that day."})
    time_5min_s = fields.Float(required=True, metadata={
        "description": "Time spent, each gap booked on the day it starts."})
    time_30min_s = fields.Float(required=True)


class CourseUnitSchema(Schema):
    unit = fields.String(required=True, metadata={
        "description": "A vertical's usage key, or <sequential>/<position> from a legacy "
                       "courseware URL."})
    learners = fields.Integer(required=True)
    time_5min_s = fields.Float(required=True)
    time_30min_s = fields.Float(required=True)


class CourseAnalyticsSchema(Schema):
    course_id = fields.String(required=True)
    learners = fields.Integer(required=True)
    total_time_5min_s = fields.Float(required=True, metadata={
        "description": "Σ gaps under 5 minutes between each learner's events."})
    total_time_30min_s = fields.Float(required=True, metadata={
        "description": "The same with a 30-minute cutoff."})
    days = fields.Nested(CourseDaySchema, many=True, required=True)
    units = fields.Nested(CourseUnitSchema, many=True, required=True, metadata={
        "description": "Time spent per unit: each gap credited to the unit its first event "
                       "showed (carried over events that show none)."})
    videos = fields.Nested(VideoMetricsSchema, many=True, required=True)


class LearnerAnalyticsSchema(Schema):
    username = fields.String(required=True)
    name = fields.String(metadata={"description": "From the roster; enrolled students only."})
    email = fields.String(metadata={"description": "From the roster; enrolled students only."})
    time_5min_s = fields.Float(required=True)
    time_30min_s = fields.Float(required=True)
    sessions_5min = fields.Integer(required=True)
    sessions_30min = fields.Integer(required=True)


class LearnerListSchema(Schema):
    course_id = fields.String(required=True)
    learners = fields.Nested(LearnerAnalyticsSchema, many=True, required=True)


class CourseRefSchema(Schema):
    course_id = fields.String(required=True)
    role = fields.String(required=True, allow_none=True, metadata={
        "description": "The caller's role in the course by its roster; null for an "
                       "analytics:admin grant without one."})
    has_report = fields.Boolean(required=True, metadata={
        "description": "Whether the course's analytics can be read yet."})


class CourseListSchema(Schema):
    courses = fields.Nested(CourseRefSchema, many=True, required=True, metadata={
        "description": "The courses whose analytics the caller may read."})
